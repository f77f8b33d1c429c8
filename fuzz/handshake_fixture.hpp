#pragma once
// The server side of fuzz_tls_handshake, shared with the program that
// records its seeds (record_handshakes.cpp). Owned by the fuzz targets.
//
// Everything is made in memory at start-up from fixed randomness: the PKI
// (no key is checked in), two services loaded from a TOML text through the
// real loader and built into real tls::server_context objects (verify
// callback, whitelist, ClientHello/SNI callback, protocol defaults), one of
// them selected by SNI. Because the randomness is fixed, the keys, the
// certificates and the server's side of every handshake come out the same on
// every run, so a recorded client flight — certificate, Finished and
// application data included — replays against the fuzz target as it was
// recorded, and the fuzzer starts from inputs that reach past the handshake.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "mtlsd/tls/handshake_verdict.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "mtlsd/tls/sni_table.hpp"
#include "pki.hpp"

namespace mtlsd::fuzz {

// Who draws from OpenSSL's randomness: each party has a stream of its own,
// so the server's draws do not depend on whether a client ran in the same
// process (the recorder) or not (the fuzz target).
enum class rand_party { setup, server, client };

// Replaces OpenSSL's RAND with fixed streams (the legacy RAND_METHOD hook,
// which OpenSSL 3.0 still consults before its DRBGs, key generation
// included). Idempotent.
void install_fixed_rand();
// Restarts `party`'s stream and makes it the one drawn from.
void restart_rand(rand_party party);
// Draws from `party`'s stream from now on, where it left off.
void use_rand(rand_party party);

// Names and values the fixture's whitelist and routes use, for the recorder.
inline constexpr const char* routed_server_name = "api.fuzz.example";
inline constexpr const char* default_server_name = "www.fuzz.example";

struct handshake_fixture {
  test::issued server_ca, server_leaf;
  test::issued client_ca, client_intermediate;
  test::issued client_allowed;      // whitelisted by CN; issued by the intermediate
  test::issued client_svid;         // an X.509-SVID, for the routed service's spiffe rule
  test::issued client_refused;      // chains, but matches no allow rule
  test::issued stranger_ca, client_stranger;  // a CA nobody trusts
  std::shared_ptr<const tls::server_context> main_service;    // the address's default
  std::shared_ptr<const tls::server_context> routed_service;  // by SNI
  tls::sni_table routes;

  // Built once per process, on first use, with the setup stream.
  static const handshake_fixture& get();
};

// One server-side connection: an SSL over a BIO pair, set up as a session
// does (verdict attached, routes for SNI), fed the client's bytes.
class server_connection {
 public:
  explicit server_connection(const handshake_fixture& fixture);
  server_connection(const server_connection&) = delete;
  server_connection& operator=(const server_connection&) = delete;
  ~server_connection();

  // Hands `bytes` to the server and runs the handshake (then reads
  // application data) until it needs more; returns what the server wrote.
  std::vector<std::uint8_t> feed(std::span<const std::uint8_t> bytes);
  // The client's end of stream.
  std::vector<std::uint8_t> close_input();

  bool handshake_done() const { return handshake_done_; }
  bool failed() const { return failed_; }
  SSL* native() const { return ssl_.get(); }
  const tls::handshake_verdict& verdict() const { return verdict_; }
  std::size_t application_bytes() const { return application_bytes_; }

 private:
  std::vector<std::uint8_t> drive();
  void drain(std::vector<std::uint8_t>& out);

  tls::handshake_verdict verdict_;
  ossl::ssl_ptr ssl_;
  BIO* network_ = nullptr;  // our end of the pair; the SSL owns the other
  bool handshake_done_ = false;
  bool failed_ = false;
  bool input_closed_ = false;
  std::size_t application_bytes_ = 0;
};

// Runs one fuzz_tls_handshake input (its format: fuzz_tls_handshake.cpp)
// from a clean state — the server's randomness restarted, no remembered
// chains, no cached sessions — calling `inspect` on each connection once the
// client's end of stream has been handled.
void run_input(std::span<const std::uint8_t> input, const std::function<void(const server_connection&)>& inspect);

}  // namespace mtlsd::fuzz
