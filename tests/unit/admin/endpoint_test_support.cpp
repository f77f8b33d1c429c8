#include "endpoint_test_support.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "mtlsd/config/config.hpp"
#include "tls_client.hpp"

namespace mtlsd::test {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

// --- route_table -----------------------------------------------------------

void route_table::add(std::string path, admin::response r) {
  std::lock_guard lock(mutex_);
  entries_.emplace_back(std::move(path), entry{std::move(r), false});
}

void route_table::add_throwing(std::string path) {
  std::lock_guard lock(mutex_);
  entries_.emplace_back(std::move(path), entry{{}, true});
}

admin::routes route_table::handler() {
  return [this](std::string_view path) -> admin::response {
    std::lock_guard lock(mutex_);
    calls_.emplace_back(path);
    for (const auto& [p, e] : entries_) {
      if (p != path) continue;
      if (e.throws) throw std::runtime_error("route failed on purpose");
      return e.r;
    }
    return {404, "text/plain; charset=utf-8", "not found\n"};
  };
}

std::vector<std::string> route_table::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

// --- running_endpoint --------------------------------------------------------

running_endpoint::running_endpoint(admin::routes handler, admin::endpoint_options options,
                                   std::shared_ptr<const tls::server_context> tls)
    : run_returned_future_(run_returned_.get_future()) {
  endpoint_.emplace(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(tls),
                    std::move(handler), options);
  port_ = endpoint_->local_endpoint().port();
  endpoint_->start();
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (...) {
      // The endpoint promises not to throw; the test's assertions show it did.
    }
    run_returned_.set_value();
  });
}

running_endpoint::~running_endpoint() {
  if (!joined_ && !stop_and_wait()) {
    io_.stop();
    thread_.join();
  }
  endpoint_.reset();
}

bool running_endpoint::stop_and_wait(std::chrono::milliseconds limit) {
  if (joined_) return true;
  endpoint_->stop();
  if (run_returned_future_.wait_for(limit) != std::future_status::ready) return false;
  thread_.join();
  joined_ = true;
  return true;
}

// --- http_response / http_client --------------------------------------------

std::optional<std::string> http_response::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return std::nullopt;
}

std::size_t http_response::count(std::string_view lower_name) const {
  return static_cast<std::size_t>(
      std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == lower_name; }));
}

http_client::http_client(std::uint16_t port) {
  fd_ = tcp_connect("127.0.0.1", port, 5s, &error_);
  if (fd_ >= 0) {
    // A server that stops reading must fail the test, not hang it.
    timeval limit{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  }
}

http_client::~http_client() { close(); }

void http_client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool http_client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool http_client::fill(clock_type::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0)));
  if (ready <= 0) {
    error_ = ready == 0 ? "timed out waiting for the response" : std::string("poll: ") + std::strerror(errno);
    return false;
  }
  char buffer[4096];
  const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
  if (n <= 0) {
    error_ = n == 0 ? "connection closed by the server" : std::string("recv: ") + std::strerror(errno);
    return false;
  }
  pending_.append(buffer, static_cast<std::size_t>(n));
  return true;
}

std::optional<http_response> http_client::read_response(bool to_head, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  std::size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline)) return std::nullopt;
  const std::string head = pending_.substr(0, end + 2);
  pending_.erase(0, end + 4);

  http_response r;
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  const auto sp1 = status_line.find(' ');
  if (sp1 == std::string::npos || status_line.size() < sp1 + 4) {
    error_ = "bad status line: " + status_line;
    return std::nullopt;
  }
  r.version = status_line.substr(0, sp1);
  r.status = std::stoi(status_line.substr(sp1 + 1, 3));
  for (std::size_t pos = line_end + 2; pos < head.size(); pos = line_end + 2) {
    line_end = head.find("\r\n", pos);
    const std::string line = head.substr(pos, line_end - pos);
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      error_ = "bad header line: " + line;
      return std::nullopt;
    }
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of(' ') + 1);
    r.headers.emplace_back(std::move(name), std::move(value));
  }
  if (to_head || r.status == 204 || r.status == 304) return r;
  const auto length = r.header("content-length");
  if (!length) {
    error_ = "response without Content-Length";
    return std::nullopt;
  }
  const std::size_t size = std::stoul(*length);
  while (pending_.size() < size)
    if (!fill(deadline)) return std::nullopt;
  r.body = pending_.substr(0, size);
  pending_.erase(0, size);
  return r;
}

bool http_client::closed_by_server(std::chrono::milliseconds timeout) {
  if (!pending_.empty()) pending_.clear();
  return wait_peer_close(fd_, timeout).has_value();
}

std::string request(std::string_view method, std::string_view target, std::string_view extra_headers) {
  std::string r;
  r.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: admin\r\n");
  r.append(extra_headers).append("\r\n");
  return r;
}

std::optional<run_result> curl(std::vector<std::string> args) {
  if (!have_program("curl")) return std::nullopt;
  std::vector<std::string> argv{"curl", "-s", "-S", "--max-time", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  process_options options;
  options.search_path = true;
  return run_command(std::move(argv), 20s, {}, options);
}

// --- log_capture --------------------------------------------------------------

struct log_capture::state {
  mutable std::mutex mutex;
  std::condition_variable added;
  std::vector<std::string> lines;
};

namespace {

class capture_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit capture_sink(std::shared_ptr<log_capture::state> state) : state_(std::move(state)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string line(formatted.data(), formatted.size());
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    {
      std::lock_guard lock(state_->mutex);
      state_->lines.push_back(std::move(line));
    }
    state_->added.notify_all();
  }
  void flush_() override {}

 private:
  std::shared_ptr<log_capture::state> state_;
};

}  // namespace

log_capture::log_capture() : state_(std::make_shared<state>()), previous_(spdlog::default_logger()) {
  auto logger = std::make_shared<spdlog::logger>("admin-test-capture", std::make_shared<capture_sink>(state_));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

log_capture::~log_capture() { spdlog::set_default_logger(previous_); }

std::optional<std::string> log_capture::wait_for(const std::vector<std::string>& parts,
                                                 std::chrono::milliseconds timeout) {
  const auto has_all = [&](const std::string& line) {
    return std::all_of(parts.begin(), parts.end(), [&](const auto& p) { return line.find(p) != std::string::npos; });
  };
  std::unique_lock lock(state_->mutex);
  std::optional<std::string> found;
  state_->added.wait_for(lock, timeout, [&] {
    for (const auto& line : state_->lines)
      if (has_all(line)) {
        found = line;
        return true;
      }
    return false;
  });
  return found;
}

std::vector<std::string> log_capture::lines() const {
  std::lock_guard lock(state_->mutex);
  return state_->lines;
}

// --- PKI -----------------------------------------------------------------------

namespace {

cert_spec ca_spec(const std::string& cn) {
  cert_spec spec;
  spec.cn = {cn};
  spec.o = {"mtlsd admin tests"};
  spec.is_ca = true;
  return spec;
}

cert_spec leaf_spec(const std::string& cn, eku_kind eku) {
  cert_spec spec;
  spec.cn = {cn};
  spec.eku = eku;
  return spec;
}

cert_spec server_spec() {
  cert_spec spec = leaf_spec("localhost", eku_kind::server_auth);
  spec.dns = {"localhost"};
  spec.ip = {"127.0.0.1"};
  return spec;
}

}  // namespace

admin_pki::admin_pki()
    : server_ca(make_self_signed(ca_spec("Admin Test Server CA"))),
      server(issue(server_spec(), server_ca)),
      client_ca(make_self_signed(ca_spec("Admin Test Client CA"))),
      client(issue(leaf_spec("ops", eku_kind::client_auth), client_ca)),
      stranger_ca(make_self_signed(ca_spec("Somebody Else's CA"))),
      stranger(issue(leaf_spec("ops", eku_kind::client_auth), stranger_ca)),
      server_ca_file(dir / "server-ca.crt"),
      server_cert(dir / "server.crt"),
      server_key(dir / "server.key"),
      truststore(dir / "client-ca.crt"),
      client_cert(dir / "client.crt"),
      client_key(dir / "client.key"),
      stranger_cert(dir / "stranger.crt"),
      stranger_key(dir / "stranger.key") {
  write_file(server_ca_file, server_ca.cert_pem());
  write_file(server_cert, server.cert_pem() + server_ca.cert_pem());
  write_file(server_key, server.key_pem());
  write_file(truststore, client_ca.cert_pem());
  write_file(client_cert, client.cert_pem());
  write_file(client_key, client.key_pem());
  write_file(stranger_cert, stranger.cert_pem());
  write_file(stranger_key, stranger.key_pem());
}

std::shared_ptr<const tls::server_context> admin_tls_context(const admin_pki& pki, std::string& errors) {
  service_config admin;
  admin.name = "admin";
  admin.key_path_prefix = "admin";
  admin.accept = {transport::tls, "127.0.0.1", 0};
  admin.connect = {{transport::tcp, "127.0.0.1", 1}};  // unused by the admin endpoint
  admin.verify_client = verify_client_mode::require;
  admin.cert = pki.server_cert;
  admin.key = pki.server_key;
  admin.truststore = pki.truststore;
  config_errors found;
  std::vector<std::string> warnings;
  auto context = tls::server_context::build(admin, found, warnings);
  for (const auto& e : found) errors += e.to_string() + "\n";
  return context;
}

}  // namespace mtlsd::test
