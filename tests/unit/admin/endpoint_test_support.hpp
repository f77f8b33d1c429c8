#pragma once
// Shared by the admin endpoint tests (owned by the admin endpoint's author):
// an endpoint running on its own io thread, a blocking raw HTTP/1.1 client
// with its own minimal response parser (independent of Beast), curl, a
// captured log, and a test PKI for the TLS cases.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "mtlsd/admin/endpoint.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "pki.hpp"
#include "process.hpp"

namespace spdlog {
class logger;
}

namespace mtlsd::test {

using namespace std::chrono_literals;

// Routes for tests: answers from a table, and remembers every path it was
// called with (the handler runs on the io thread, tests read from theirs).
class route_table {
 public:
  void add(std::string path, admin::response r);
  // Throws std::runtime_error for this path.
  void add_throwing(std::string path);
  admin::routes handler();
  std::vector<std::string> calls() const;

 private:
  struct entry {
    admin::response r;
    bool throws = false;
  };
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, entry>> entries_;
  std::vector<std::string> calls_;
};

// An admin::endpoint on 127.0.0.1:<ephemeral>, its io_context run by a thread.
class running_endpoint {
 public:
  explicit running_endpoint(admin::routes handler, admin::endpoint_options options = {},
                            std::shared_ptr<const tls::server_context> tls = nullptr);
  ~running_endpoint();
  running_endpoint(const running_endpoint&) = delete;
  running_endpoint& operator=(const running_endpoint&) = delete;

  std::uint16_t port() const { return port_; }
  // Calls stop() from this (non-io) thread; true when the io thread's run()
  // then returned within `limit`.
  bool stop_and_wait(std::chrono::milliseconds limit = 10s);

 private:
  boost::asio::io_context io_;
  std::optional<admin::endpoint> endpoint_;
  std::uint16_t port_ = 0;
  std::promise<void> run_returned_;
  std::future<void> run_returned_future_;
  std::thread thread_;
  bool joined_ = false;
};

struct http_response {
  int status = 0;
  std::string version;  // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::optional<std::string> header(std::string_view lower_name) const;
  std::size_t count(std::string_view lower_name) const;
};

// One blocking TCP connection speaking raw bytes; every wait is bounded.
class http_client {
 public:
  explicit http_client(std::uint16_t port);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  bool connected() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  bool send(std::string_view bytes);
  // Reads one response; `to_head` when it answers a HEAD (no body follows
  // whatever Content-Length says). nullopt (see error()) on timeout, close or
  // a response this parser cannot read.
  std::optional<http_response> read_response(bool to_head = false, std::chrono::milliseconds timeout = 5s);
  // True when the server closes the connection within `timeout` (any bytes
  // still arriving are discarded).
  bool closed_by_server(std::chrono::milliseconds timeout = 5s);
  void close();

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string pending_;
  std::string error_;
};

// "GET /x HTTP/1.1\r\nHost: admin\r\n<extra>\r\n".
std::string request(std::string_view method, std::string_view target, std::string_view extra_headers = {});

// curl -s -S --max-time 10 <args>; nullopt when curl is not installed.
std::optional<run_result> curl(std::vector<std::string> args);

// Log lines (as "level event k=v ...") emitted through mtlsd::log while alive;
// restores the previous default logger at destruction.
class log_capture {
 public:
  log_capture();
  ~log_capture();
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  // The first line containing every one of `parts`, waiting up to `timeout`.
  std::optional<std::string> wait_for(const std::vector<std::string>& parts, std::chrono::milliseconds timeout = 5s);
  std::vector<std::string> lines() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Server certificate (for 127.0.0.1 and localhost) from one CA, client
// certificates from another, and a client certificate from a CA the endpoint
// does not trust; all written as PEM.
struct admin_pki {
  admin_pki();

  issued server_ca, server, client_ca, client, stranger_ca, stranger;
  temp_dir dir;
  std::filesystem::path server_ca_file, server_cert, server_key, truststore;
  std::filesystem::path client_cert, client_key, stranger_cert, stranger_key;
};

// The admin endpoint's TLS settings as the daemon makes them: a
// service_config named "admin" that requires client certificates.
std::shared_ptr<const tls::server_context> admin_tls_context(const admin_pki& pki, std::string& errors);

}  // namespace mtlsd::test
