#pragma once
// Shared by the tls unit tests (owned by the tls/proxy unit-test helper): a
// server PKI written to disk, service_configs that name it, and one loopback
// connection whose server side runs tls::stream on an io_context the way a
// session does, while a blocking test::tls_client drives the client side on
// its own thread.

#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "mtlsd/config/config.hpp"
#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "mtlsd/tls/stream.hpp"
#include "pki.hpp"

namespace mtlsd::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

cert_spec ca_spec(const std::string& cn);
cert_spec leaf_spec(const std::string& cn, eku_kind eku = eku_kind::client_auth);

// "2026-11-23T18:39:36Z", computed here independently of ossl::iso8601.
std::string utc_text(const ASN1_TIME* time);

// A server CA and its "localhost" certificate, a separate client CA, and the
// three PEM files a service names.
struct server_pki {
  server_pki();

  issued server_ca, server, client_ca;
  temp_dir dir;
  std::filesystem::path cert, key, truststore;
};

service_config make_service(const server_pki& pki, verify_client_mode mode = verify_client_mode::require);

// Builds the context; on failure records a test failure listing every error.
std::shared_ptr<const tls::server_context> must_build(const service_config& service);

// One-shot signal from the io thread to the client thread. Waiting is bounded
// so a broken server side fails the test instead of hanging it.
class event {
 public:
  event() : future_(promise_.get_future().share()) {}
  void set() {
    if (!set_) {
      set_ = true;
      promise_.set_value();
    }
  }
  bool wait(std::chrono::milliseconds limit = 10s) const {
    return future_.wait_for(limit) == std::future_status::ready;
  }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_;
  bool set_ = false;
};

// The server side of one connection, set up as proxy::session does.
struct server_side {
  tls::handshake_verdict verdict;
  std::optional<tls::stream> stream;
  boost::system::error_code handshake_error;
  std::string version;  // negotiated, when the handshake succeeded
};

// Accepts one connection, runs tls::stream::accept() with `context` and a
// verdict attached, and on failure fills the verdict with explain_failure().
asio::awaitable<void> accept_and_handshake(tcp::acceptor& acceptor, const tls::server_context& context,
                                           server_side& out);

// A listening socket on 127.0.0.1 with an ephemeral port.
tcp::acceptor loopback_acceptor(asio::io_context& io);

// Runs `work` on `io` until every handler is done or `limit` passed. Fails
// (and stops the io_context) when `work` did not complete or threw. `done`
// is set when `work` ends, however it ends.
::testing::AssertionResult run_to_completion(asio::io_context& io, asio::awaitable<void> work,
                                             event* done = nullptr, std::chrono::seconds limit = 30s);

}  // namespace mtlsd::test
