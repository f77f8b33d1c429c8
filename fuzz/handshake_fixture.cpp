// See handshake_fixture.hpp.
#define OPENSSL_SUPPRESS_DEPRECATED  // RAND_METHOD: the one hook that fixes key generation's randomness too
#include "handshake_fixture.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mtlsd/config/loader.hpp"
#include "mtlsd/tls/verified_chain_cache.hpp"

namespace mtlsd::fuzz {
namespace {

// splitmix64 (Vigna): tiny, and any fixed sequence will do; nothing here is
// meant to be secret.
struct stream {
  std::uint64_t seed = 0;
  std::uint64_t state = 0;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

std::array<stream, 3> streams{{{0x6d746c7364536574ULL}, {0x6d746c7364537276ULL}, {0x6d746c7364436c69ULL}}};
stream* current = &streams[0];

int fixed_bytes(unsigned char* out, int length) {
  for (int i = 0; i < length;) {
    std::uint64_t word = current->next();
    for (int k = 0; k < 8 && i < length; ++k, ++i, word >>= 8) out[i] = static_cast<unsigned char>(word);
  }
  return 1;
}
int fixed_seed(const void*, int) { return 1; }
int fixed_add(const void*, int, double) { return 1; }
int fixed_status() { return 1; }

const RAND_METHOD fixed_method = {fixed_seed, fixed_bytes, nullptr, fixed_add, fixed_bytes, fixed_status};

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz fixture: %s\n", why.c_str());
  std::abort();
}

// Valid from 2024 to 2099: fixed dates keep the certificates byte-identical
// from run to run (the recorded flights depend on them), and far enough out
// that the seeds stay valid.
constexpr std::int64_t valid_from = 1704067200;   // 2024-01-01
constexpr std::int64_t valid_until = 4102358400;  // 2099-12-31

test::cert_spec fixed_dates(test::cert_spec spec) {
  spec.not_before_unix = valid_from;
  spec.not_after_unix = valid_until;
  return spec;
}

test::issued ca(const std::string& name) {
  test::cert_spec spec;
  spec.cn = {name};
  spec.is_ca = true;
  return test::make_self_signed(fixed_dates(spec));
}

// The two services share one address; SNI picks the second. The first is
// the address's default, requires a client certificate and has a whitelist
// with every field; the second wants one and allows TLS 1.3 only. (Session
// caching must be the same for both: it applies before SNI is known.)
constexpr const char* config_text = R"toml(
[[service]]
name = "main"
accept = "tls://127.0.0.1:8443"
connect = "tcp://127.0.0.1:8080"
cert = "server.crt"
key = "server.key"
truststore = "client-ca.crt"
verify_client = "require"
alpn = ["h2", "http/1.1"]

[service.allow]
cn = ["fuzz-client"]
ou = ["payments"]
dns = ["*.partner.example"]
uri = ["spiffe://example.org/partner/*"]
ip = ["10.1.2.3"]
email = ["ops@partner.example"]
sha256 = ["3A:5F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"]

[[service]]
name = "routed"
accept = "tls://127.0.0.1:8443"
server_names = ["api.fuzz.example", "*.routed.example"]
connect = "tcp://127.0.0.1:8081"
cert = "server.crt"
key = "server.key"
truststore = "client-ca.crt"
verify_client = "want"
min_tls_version = "1.3"
alpn = ["http/1.1"]

[service.allow]
spiffe_trust_domain = ["example.org"]
)toml";

std::shared_ptr<const tls::server_context> build_service(const service_config& service) {
  config_errors errors;
  std::vector<std::string> warnings;
  auto context = tls::server_context::build(service, errors, warnings);
  if (!context) fail("service " + service.name + ": " + (errors.empty() ? "?" : errors.front().message));
  return context;
}

handshake_fixture make_fixture() {
  install_fixed_rand();
  restart_rand(rand_party::setup);
  handshake_fixture f;
  f.server_ca = ca("Fuzz Server CA");
  test::cert_spec server;
  server.cn = {"www.fuzz.example"};
  server.dns = {"www.fuzz.example", "api.fuzz.example"};
  server.eku = test::eku_kind::server_auth;
  f.server_leaf = test::issue(fixed_dates(server), f.server_ca);

  f.client_ca = ca("Fuzz Client CA");
  test::cert_spec intermediate;
  intermediate.cn = {"Fuzz Client Intermediate"};
  intermediate.is_ca = true;
  f.client_intermediate = test::issue(fixed_dates(intermediate), f.client_ca);
  test::cert_spec allowed;
  allowed.cn = {"fuzz-client"};
  allowed.o = {"Fuzz Partner"};
  allowed.dns = {"client.partner.example"};
  allowed.email = {"ops@partner.example"};
  f.client_allowed = test::issue(fixed_dates(allowed), f.client_intermediate);
  test::cert_spec svid;
  svid.uri = {"spiffe://example.org/ns/prod/sa/api"};
  f.client_svid = test::issue(fixed_dates(svid), f.client_ca);
  test::cert_spec refused;
  refused.cn = {"someone-else"};
  refused.dns = {"client.elsewhere.example"};
  f.client_refused = test::issue(fixed_dates(refused), f.client_ca);
  f.stranger_ca = ca("Stranger CA");
  f.client_stranger = test::issue(fixed_dates(allowed), f.stranger_ca);

  // The loader wants files; they live only until the contexts are built.
  test::temp_dir dir;
  test::write_file(dir / "server.crt", f.server_leaf.cert_pem() + f.server_ca.cert_pem());
  test::write_file(dir / "server.key", f.server_leaf.key_pem());
  test::write_file(dir / "client-ca.crt", f.client_ca.cert_pem());
  const load_result loaded = load_config_text(config_text, dir / "mtlsd.toml");
  if (!loaded.ok()) fail("config: " + loaded.errors.front().key + ": " + loaded.errors.front().message);
  f.main_service = build_service(loaded.cfg.services.at(0));
  f.routed_service = build_service(loaded.cfg.services.at(1));
  f.routes.add(loaded.cfg.services.at(0).server_names, f.main_service.get());
  f.routes.add(loaded.cfg.services.at(1).server_names, f.routed_service.get());
  return f;
}

}  // namespace

void install_fixed_rand() {
  if (RAND_get_rand_method() != &fixed_method && RAND_set_rand_method(&fixed_method) != 1)
    fail("cannot install the fixed RAND method");
}

void restart_rand(rand_party party) {
  stream& s = streams[static_cast<std::size_t>(party)];
  s.state = s.seed;
  current = &s;
}

void use_rand(rand_party party) { current = &streams[static_cast<std::size_t>(party)]; }

const handshake_fixture& handshake_fixture::get() {
  static const handshake_fixture fixture = make_fixture();
  return fixture;
}

server_connection::server_connection(const handshake_fixture& fixture) {
  // As a session starts one (proxy/session.cpp): the address's first
  // context, the verdict attached, the routes for the ClientHello callback.
  verdict_.context = fixture.main_service.get();
  verdict_.routes = &fixture.routes;
  ssl_.reset(SSL_new(fixture.main_service->native()));
  BIO* internal = nullptr;
  if (!ssl_ || BIO_new_bio_pair(&internal, 1 << 17, &network_, 1 << 17) != 1) fail("cannot create an SSL");
  SSL_set_bio(ssl_.get(), internal, internal);
  SSL_set_accept_state(ssl_.get());
  tls::attach(ssl_.get(), &verdict_);
}

server_connection::~server_connection() {
  tls::attach(ssl_.get(), nullptr);
  ssl_.reset();
  BIO_free(network_);
  ERR_clear_error();
}

void server_connection::drain(std::vector<std::uint8_t>& out) {
  std::array<std::uint8_t, 4096> buffer{};
  for (;;) {
    const int n = BIO_read(network_, buffer.data(), static_cast<int>(buffer.size()));
    if (n <= 0) return;
    out.insert(out.end(), buffer.begin(), buffer.begin() + n);
  }
}

std::vector<std::uint8_t> server_connection::drive() {
  std::vector<std::uint8_t> out;
  std::array<std::uint8_t, 4096> buffer{};
  // Every round consumes input, completes the handshake, or produces output
  // that is drained; the bound is only a backstop.
  for (int round = 0; round < 10000 && !failed_; ++round) {
    int result = 0;
    if (!handshake_done_) {
      result = SSL_do_handshake(ssl_.get());
      if (result == 1) {
        handshake_done_ = true;
        continue;
      }
    } else {
      result = SSL_read(ssl_.get(), buffer.data(), static_cast<int>(buffer.size()));
      if (result > 0) {
        application_bytes_ += static_cast<std::size_t>(result);
        continue;
      }
    }
    const int error = SSL_get_error(ssl_.get(), result);
    drain(out);
    if (error == SSL_ERROR_WANT_WRITE) continue;
    if (error == SSL_ERROR_WANT_READ) break;
    if (error == SSL_ERROR_ZERO_RETURN) {
      // close_notify: answered as a session would on its way out.
      SSL_shutdown(ssl_.get());
      drain(out);
      input_closed_ = true;
      break;
    }
    if (!handshake_done_) tls::explain_failure(ssl_.get(), verdict_);
    failed_ = true;
    ERR_clear_error();
  }
  drain(out);
  return out;
}

std::vector<std::uint8_t> server_connection::feed(std::span<const std::uint8_t> bytes) {
  std::vector<std::uint8_t> out;
  while (!bytes.empty() && !failed_ && !input_closed_) {
    const int written = BIO_write(network_, bytes.data(), static_cast<int>(bytes.size()));
    if (written > 0) bytes = bytes.subspan(static_cast<std::size_t>(written));
    const auto more = drive();
    out.insert(out.end(), more.begin(), more.end());
    if (written <= 0 && more.empty()) break;  // neither side moves: give up rather than spin
  }
  if (bytes.empty() && !failed_ && !input_closed_) {
    const auto more = drive();
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

std::vector<std::uint8_t> server_connection::close_input() {
  if (failed_ || input_closed_) return {};
  input_closed_ = true;
  BIO_shutdown_wr(network_);
  return drive();
}

void run_input(std::span<const std::uint8_t> input, const std::function<void(const server_connection&)>& inspect) {
  if (input.empty()) return;
  const handshake_fixture& fixture = handshake_fixture::get();
  // Nothing carried over from the previous input: remembered chains and
  // cached sessions would make an input's outcome depend on its predecessors.
  tls::forget_verified_chains();
  SSL_CTX_flush_sessions(fixture.main_service->native(), 0x7fffffffL);
  SSL_CTX_flush_sessions(fixture.routed_service->native(), 0x7fffffffL);
  restart_rand(rand_party::server);

  const std::uint8_t control = input[0];
  const std::size_t chunk = control & 0x7f;
  std::span<const std::uint8_t> rest = input.subspan(1);
  std::vector<std::span<const std::uint8_t>> streams;
  if ((control & 0x80) != 0) {
    if (rest.size() < 2) return;
    const std::size_t first = std::min<std::size_t>((std::size_t{rest[0]} << 8) | rest[1], rest.size() - 2);
    streams.push_back(rest.subspan(2, first));
    streams.push_back(rest.subspan(2 + first));
  } else {
    streams.push_back(rest);
  }
  for (auto stream : streams) {
    server_connection connection(fixture);
    while (!stream.empty()) {
      const std::size_t n = chunk == 0 ? stream.size() : std::min(chunk, stream.size());
      (void)connection.feed(stream.first(n));
      stream = stream.subspan(n);
    }
    (void)connection.close_input();
    inspect(connection);
  }
}

}  // namespace mtlsd::fuzz
