#pragma once
// Many mTLS client connections driven from one thread: non-blocking sockets,
// one epoll set, OpenSSL state machines advanced as the sockets allow, so
// thousands of full handshakes are in flight at once and the load tests take
// seconds, not minutes. Used by the load tests (tests/integration/load_test.cpp).
// Owned by the load-test helper.
//
// Every connection makes a full handshake (no session is ever offered) with
// the configured client certificate, verifies the server against the CA, and
// proves it was admitted with one round trip through an echo backend. Errors
// never throw: they are counted, and the first few are kept for the message.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tls_client.hpp"

namespace mtlsd::test {

struct swarm_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::filesystem::path ca_file;       // verify mtlsd's certificate against this
  std::string verify_host = "127.0.0.1";
  std::string sni = "localhost";
  client_identity identity;            // presented on every connection
  std::size_t in_flight = 64;          // connections being set up (or torn down) at once
  std::string payload = "ping\n";      // echoed back on every round trip
  std::chrono::milliseconds deadline = std::chrono::seconds(120);  // per call, for all its connections
};

struct swarm_result {
  std::size_t ok = 0;
  std::size_t failed = 0;
  std::vector<std::string> errors;  // the first few failures, "handshake: ..." etc.
  std::chrono::milliseconds elapsed{0};
  std::string describe() const;     // "ok=N failed=M in T ms; first errors: ..."
};

class tls_swarm {
 public:
  explicit tls_swarm(swarm_options options);
  ~tls_swarm();
  tls_swarm(const tls_swarm&) = delete;
  tls_swarm& operator=(const tls_swarm&) = delete;

  // Opens `count` more connections (handshake + one round trip each) and
  // keeps those that succeed open and idle.
  swarm_result open(std::size_t count);
  // One more round trip on every held connection, all at once; a connection
  // that fails it is closed and no longer held.
  swarm_result round_trip_all();
  // Closes every held connection cleanly: close_notify, then waits for the
  // peer's close (mtlsd answers once the backend closed too). ok counts the
  // connections that got the peer's close_notify.
  swarm_result close_all();
  std::size_t held() const;

  // `total` short connections, `in_flight` at a time: connect, handshake,
  // round trip, close_notify, the peer's close_notify, close. Nothing is held.
  swarm_result cycle(std::size_t total);

 private:
  struct engine;
  std::unique_ptr<engine> engine_;
};

}  // namespace mtlsd::test
