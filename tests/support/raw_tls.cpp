#include "raw_tls.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

void put16(std::string& out, std::size_t v) {
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

void put24(std::string& out, std::size_t v) {
  out += static_cast<char>((v >> 16) & 0xff);
  put16(out, v & 0xffff);
}

std::string with16(const std::string& body) {
  std::string out;
  put16(out, body.size());
  return out + body;
}

}  // namespace

std::string client_hello_message(const hello_spec& spec) {
  std::string body;
  put16(body, spec.client_version);
  // A fixed "random" is fine: no handshake ever completes from these hellos.
  for (int i = 0; i < 32; ++i) body += static_cast<char>(0x40 + i);
  body += '\0';  // empty legacy_session_id
  std::string suites;
  for (auto s : spec.cipher_suites) put16(suites, s);
  body += with16(suites);
  body += '\x01';
  body += '\0';  // compression: null only
  if (!spec.extensions.empty()) {
    std::string exts;
    for (const auto& [type, data] : spec.extensions) {
      put16(exts, type);
      exts += with16(data);
    }
    body += with16(exts);
  }
  std::string message(1, '\x01');  // client_hello
  put24(message, body.size());
  return message + body;
}

std::string tls_records(std::uint8_t content_type, std::uint16_t version, std::string_view payload,
                        std::size_t max_fragment) {
  std::string out;
  do {
    const std::size_t n = std::min(max_fragment, payload.size());
    out += record_header(content_type, version, static_cast<std::uint16_t>(n));
    out.append(payload.substr(0, n));
    payload.remove_prefix(n);
  } while (!payload.empty());
  return out;
}

std::string record_header(std::uint8_t content_type, std::uint16_t version, std::uint16_t length) {
  std::string out(1, static_cast<char>(content_type));
  put16(out, version);
  put16(out, length);
  return out;
}

std::vector<std::pair<std::uint16_t, std::string>> legacy_extensions() {
  std::string groups;
  put16(groups, 0x001d);  // x25519
  put16(groups, 0x0017);  // secp256r1
  std::string sigalgs;
  for (std::uint16_t s : {0x0403, 0x0804, 0x0401}) put16(sigalgs, s);
  return {{0x000a, with16(groups)}, {0x000b, std::string("\x01\x00", 2)}, {0x000d, with16(sigalgs)}};
}

std::optional<int> first_alert(std::string_view bytes) {
  while (bytes.size() >= 5) {
    const auto type = static_cast<unsigned char>(bytes[0]);
    const std::size_t length =
        (static_cast<std::size_t>(static_cast<unsigned char>(bytes[3])) << 8) | static_cast<unsigned char>(bytes[4]);
    if (bytes.size() < 5 + length) return std::nullopt;
    if (type == 0x15 && length >= 2) return static_cast<unsigned char>(bytes[6]);
    bytes.remove_prefix(5 + length);
  }
  return std::nullopt;
}

raw_reply read_until_closed(int fd, std::chrono::milliseconds timeout) {
  raw_reply reply;
  const auto start = clock_type::now();
  const auto deadline = start + timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      reply.bytes.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    reply.closed = true;
    break;
  }
  reply.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  return reply;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void reset_connection(int fd) {
  const linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  ::close(fd);
}

}  // namespace mtlsd::test
