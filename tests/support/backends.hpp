#pragma once
// In-process loopback TCP backends for the proxy under test, each serving on an
// ephemeral port from its own threads, with a bounded lifetime. Owned by the
// test-harness helper.
//
// Every connection leaves a connection_record (bytes, SHA-256, the order of
// FINs) that tests inspect once the connection is finished.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "payload.hpp"

namespace mtlsd::test {

using namespace std::chrono_literals;

struct connection_record {
  std::uint64_t bytes_received = 0;
  std::string sha256_received;  // of everything received
  std::string data;             // the first `keep_bytes` received bytes
  std::uint64_t bytes_sent = 0;
  bool eof_received = false;    // the peer's FIN arrived (not a reset)
  bool fin_sent = false;
  std::string error;            // set when the connection ended in an error
  // In order, as they happened: "eof" (peer FIN), "fin" (our FIN), "reply".
  std::vector<std::string> events;
  // Bytes received when the peer's FIN arrived / sent when ours left.
  std::uint64_t received_at_eof = 0;
};

class backend_connection {
 public:
  backend_connection(int fd, std::size_t keep_bytes);
  int fd() const { return fd_; }
  // Reads whatever arrives and accounts for it; 0 on EOF, -1 on error.
  long receive(char* buffer, std::size_t size);
  // Reads until EOF or error, accounting everything.
  void receive_to_end();
  bool send_all(std::string_view data);
  void send_fin();
  void note(const std::string& event);
  bool eof_received();
  connection_record finish();  // final record (finalises the hash)

 private:
  int fd_;
  std::size_t keep_bytes_;
  std::mutex mutex_;  // a sender thread and the receiver both write the record
  connection_record record_;
  sha256_hasher hasher_;
};

using connection_handler = std::function<void(backend_connection&)>;

class loopback_server {
 public:
  // Listens on 127.0.0.1:0. Connections and the server itself stop at the
  // latest after `lifetime`, so a failing test cannot hang on a backend.
  // A non-zero `port` listens there (a backend restarted on its old port);
  // `ipv6` listens on [::1] instead.
  explicit loopback_server(connection_handler handler, std::chrono::milliseconds lifetime = 60s,
                           std::size_t keep_bytes = 1 << 20, std::uint16_t port = 0, bool ipv6 = false);
  ~loopback_server();
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const;      // "127.0.0.1:PORT" or "[::1]:PORT"
  std::string connect_url() const;  // "tcp://" + address()
  std::size_t accepted() const { return accepted_.load(); }

  bool wait_accepted(std::size_t count, std::chrono::milliseconds timeout);
  // Records of finished connections, in finishing order; throws harness_error
  // when fewer than `count` finish within `timeout`.
  std::vector<connection_record> wait_finished(std::size_t count, std::chrono::milliseconds timeout = 10s);
  std::vector<connection_record> finished() const;

 private:
  struct active {
    int fd;
    std::thread thread;
  };
  void accept_loop();
  void serve(active* slot, int fd);

  bool ipv6_ = false;
  connection_handler handler_;
  std::chrono::milliseconds lifetime_;
  std::size_t keep_bytes_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepted_{0};
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::list<active> connections_;
  std::vector<connection_record> finished_;
  std::thread acceptor_;
};

// Echoes every byte; on the peer's FIN, finishes echoing, then sends its own FIN.
connection_handler echo_handler();

struct sink_options {
  // Sent (concurrently with receiving) as soon as the connection is accepted.
  std::string send;
  std::uint64_t send_generated = 0;  // or this many payload_source bytes...
  std::uint64_t send_seed = 0;       // ...with this seed
  bool fin_after_send = true;        // shut down our side once `send` is out
  // Sent after the peer's FIN arrived (then our FIN): proves the reverse
  // direction survives the client's half-close.
  std::string reply_after_eof;
};

// Counts and hashes everything received until the peer's FIN; optionally sends.
connection_handler sink_handler(sink_options options);

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
std::uint16_t closed_port();

}  // namespace mtlsd::test
