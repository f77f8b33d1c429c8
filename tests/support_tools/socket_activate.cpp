// mtlsd-socket-activate: a test-only stand-in for a service manager's socket
// activation (the protocol of sd_listen_fds(3)), so tests can hand mtlsd
// listening sockets without systemd. Owned by the platform helper.
//
// Binds and listens on every --listen address, writes the bound addresses to
// --ready-file, places the sockets at descriptors 3, 4, ... and execs the
// command with LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID set. exec keeps the
// process id, so LISTEN_PID names the command.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view usage_text =
    "usage: mtlsd-socket-activate --listen HOST:PORT [--name NAME] [--listen ... [--name ...]]\n"
    "                             --ready-file FILE -- COMMAND [ARGS...]\n"
    "\n"
    "Test tool: passes listening TCP sockets to COMMAND the way systemd's socket\n"
    "activation does (descriptors from 3, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID).\n"
    "\n"
    "  --listen HOST:PORT  numeric address to bind and listen on; port 0 picks a free\n"
    "                      port; IPv6 as [::1]:PORT\n"
    "  --name NAME         name of the preceding --listen socket (LISTEN_FDNAMES)\n"
    "  --ready-file FILE   written (atomically) before COMMAND starts: the bound\n"
    "                      HOST:PORT of each socket, one per line, in --listen order\n";

struct listen_spec {
  std::string text;
  std::string name;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "mtlsd-socket-activate: %s\n", message.c_str());
  std::exit(2);
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "mtlsd-socket-activate: %s\n\n%.*s", message.c_str(), static_cast<int>(usage_text.size()),
               usage_text.data());
  std::exit(2);
}

std::string format_endpoint(const sockaddr_storage& storage) {
  char host[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &storage, sizeof v6);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  sockaddr_in v4{};
  std::memcpy(&v4, &storage, sizeof v4);
  ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4.sin_port));
}

// Returns the listening descriptor; its bound address goes to `bound`.
int open_listener(const std::string& text, std::string& bound) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      usage_error("bad --listen address: " + text);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) usage_error("bad --listen address: " + text);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* result = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result); rc != 0)
    usage_error("bad --listen address " + text + ": " + ::gai_strerror(rc));

  const int fd = ::socket(result->ai_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) fail("socket: " + std::string(std::strerror(errno)));
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // [::] means IPv6 only, as for mtlsd's own listeners (systemd's default
  // follows the kernel's bindv6only instead), so a test sees the same socket
  // whether mtlsd binds it or inherits it.
  if (result->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (::bind(fd, result->ai_addr, result->ai_addrlen) != 0)
    fail("cannot bind " + text + ": " + std::strerror(errno));
  ::freeaddrinfo(result);
  if (::listen(fd, SOMAXCONN) != 0) fail("cannot listen on " + text + ": " + std::strerror(errno));

  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0)
    fail("getsockname: " + std::string(std::strerror(errno)));
  bound = format_endpoint(storage);
  return fd;
}

void write_ready_file(const std::string& path, const std::vector<std::string>& lines) {
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& line : lines) out << line << '\n';
    out.flush();
    if (!out) fail("cannot write " + temporary);
  }
  // Readers poll for the file's existence: it must appear complete.
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    fail("cannot rename " + temporary + " to " + path + ": " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<listen_spec> specs;
  std::string ready_file;
  int command_index = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--help") {
      std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
      return 0;
    } else if (arg == "--listen") {
      specs.push_back({value(), ""});
    } else if (arg == "--name") {
      if (specs.empty()) usage_error("--name must follow a --listen");
      const std::string name = value();
      if (name.find(':') != std::string::npos) usage_error("a name cannot contain ':': " + name);
      specs.back().name = name;
    } else if (arg == "--ready-file") {
      ready_file = value();
    } else if (arg == "--") {
      command_index = i + 1;
      break;
    } else {
      usage_error("unknown argument: " + std::string(arg));
    }
  }
  if (specs.empty()) usage_error("at least one --listen is needed");
  if (ready_file.empty()) usage_error("--ready-file is needed");
  if (command_index < 0 || command_index >= argc) usage_error("no command after --");

  const int count = static_cast<int>(specs.size());
  std::vector<int> fds;
  std::vector<std::string> bound(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) fds.push_back(open_listener(specs[i].text, bound[i]));

  // Two steps: a socket may already sit on a descriptor another one must move
  // to, so first lift them all above the target range, then drop them into place.
  for (auto& fd : fds) {
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 3 + count);
    if (high < 0) fail("fcntl(F_DUPFD): " + std::string(std::strerror(errno)));
    ::close(fd);
    fd = high;
  }
  for (int i = 0; i < count; ++i) {
    // dup2 clears close-on-exec on the target: exactly the ones we pass.
    if (::dup2(fds[static_cast<std::size_t>(i)], 3 + i) < 0) fail("dup2: " + std::string(std::strerror(errno)));
    ::close(fds[static_cast<std::size_t>(i)]);
  }

  std::string names;
  bool any_name = false;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (i > 0) names += ':';
    names += specs[i].name;
    any_name = any_name || !specs[i].name.empty();
  }
  ::setenv("LISTEN_FDS", std::to_string(count).c_str(), 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  if (any_name)
    ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
  else
    ::unsetenv("LISTEN_FDNAMES");

  write_ready_file(ready_file, bound);
  ::execvp(argv[command_index], argv + command_index);
  std::fprintf(stderr, "mtlsd-socket-activate: cannot run %s: %s\n", argv[command_index], std::strerror(errno));
  return 127;
}
