// Writes the seed corpora of fuzz_identity and fuzz_tls_handshake (run by
// fuzz/make-seeds; the output is checked in). Certificates only, never a key:
//   - fuzz_identity: DER certificates of varied shapes (every SAN kind,
//     SPIFFE IDs, several CNs, UTF-8 and hostile names, CAs with constraints,
//     weak and unusual keys, a chain's intermediates);
//   - fuzz_tls_handshake: what real OpenSSL clients send to the fuzz target's
//     server (handshake_fixture.hpp), recorded byte for byte: ClientHellos of
//     TLS 1.2 and 1.3 with SNI, ALPN, tickets and key shares, and whole
//     conversations with client certificates, application data, a key
//     update, a renegotiation attempt, close_notify, and pairs of
//     connections where the second resumes the first's session. Each file
//     is an input as fuzz_tls_handshake.cpp describes, checked to replay
//     as it was recorded;
//   - fuzz_keystore: a JKS store with a private-key entry holding synthetic
//     garbage (the stores keytool writes come from fuzz/make-seeds itself).
// The randomness is fixed (handshake_fixture.hpp), so running this again
// writes the same files.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "handshake_fixture.hpp"
#include "mtlsd/tls/rejection.hpp"
#include "mtlsd/tls/verified_chain_cache.hpp"

namespace {

using namespace mtlsd;
namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "make-seeds: %s\n", why.c_str());
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

void write_bytes(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write " + path.string());
}

std::vector<std::uint8_t> der_of(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  if (length <= 0) fail("i2d_X509");
  std::vector<std::uint8_t> out(der, der + length);
  OPENSSL_free(der);
  return out;
}

constexpr std::int64_t valid_from = 1704067200;   // 2024-01-01
constexpr std::int64_t valid_until = 4102358400;  // 2099-12-31

test::cert_spec dated(test::cert_spec spec) {
  if (!spec.not_before_unix) spec.not_before_unix = valid_from;
  if (!spec.not_after_unix) spec.not_after_unix = valid_until;
  return spec;
}

void write_identity_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  auto save = [&](const std::string& name, const test::issued& cert) { write_bytes(dir / (name + ".der"), der_of(cert.cert.get())); };

  test::cert_spec root_spec;
  root_spec.cn = {"Seed Root CA"};
  root_spec.o = {"Example Corp"};
  root_spec.is_ca = true;
  const auto root = test::make_self_signed(dated(root_spec));
  save("root-ca", root);

  // A chain root -> three intermediates -> leaf; the intermediates carry
  // path lengths, name constraints and a CRL distribution point.
  test::cert_spec int1;
  int1.cn = {"Seed Intermediate 1"};
  int1.is_ca = true;
  int1.path_len = 2;
  int1.permitted_names = {"dns:.partner.example", "email:partner.example", "uri:.example.org", "ip:10.0.0.0/8"};
  int1.excluded_names = {"dns:bad.partner.example", "ip:10.9.0.0/16"};
  int1.crl_distribution_points = {"http://crl.example/int1.crl"};
  const auto i1 = test::issue(dated(int1), root);
  test::cert_spec int2;
  int2.cn = {"Seed Intermediate 2"};
  int2.ou = {"Issuing"};
  int2.is_ca = true;
  int2.path_len = 1;
  int2.key = test::key_kind::rsa2048;
  const auto i2 = test::issue(dated(int2), i1);
  test::cert_spec int3;
  int3.cn = {"Seed Intermediate 3"};
  int3.is_ca = true;
  int3.eku_on_ca = true;
  const auto i3 = test::issue(dated(int3), i2);
  save("chain-intermediate-1-constraints", i1);
  save("chain-intermediate-2-rsa", i2);
  save("chain-intermediate-3-eku", i3);

  test::cert_spec every;
  every.cn = {"partner-a"};
  every.ou = {"payments"};
  every.o = {"Example Corp"};
  every.dns = {"a.partner.example", "API.Partner.Example"};
  every.uri = {"https://id.example/exact", "spiffe://example.org/partner/api"};
  every.email = {"ops@partner.example"};
  every.ip = {"10.1.2.3", "2001:db8::1"};
  save("leaf-every-san-kind", test::issue(dated(every), i3));

  test::cert_spec svid;
  svid.uri = {"spiffe://example.org/ns/prod/sa/api"};
  save("svid", test::issue(dated(svid), root));
  test::cert_spec svid_two;
  svid_two.uri = {"spiffe://example.org/a", "spiffe://other.example/ns/b"};
  svid_two.key_usage = std::vector<test::key_usage_kind>{test::key_usage_kind::digital_signature,
                                                         test::key_usage_kind::key_cert_sign};
  save("svid-two-uris-certsign", test::issue(dated(svid_two), root));
  test::cert_spec svid_bad;
  svid_bad.uri = {"spiffe://Example.org:8443/a//b/"};
  svid_bad.key_usage = std::vector<test::key_usage_kind>{};
  save("svid-malformed-no-key-usage", test::issue(dated(svid_bad), root));

  test::cert_spec two_cns;
  two_cns.cn = {"partner-a", "partner-b"};
  two_cns.dns = {"x.y.partner.example", "*.partner.example"};
  save("two-cns-wildcard-san", test::issue(dated(two_cns), root));

  test::cert_spec utf8;
  utf8.cn = {"Jos\xc3\xa9"};
  utf8.o = {"\xe5\x90\x8d\xe5\x89\x8d \xc3\x9c\x6e\xc3\xaf\x63\xc3\xb8\x64\xc3\xa9"};
  utf8.ou = {"bidi \xe2\x80\xae" "evil", "c1 \xc2\x85 next", "ctl \x1b[31m red"};
  utf8.email = {"j\xc3\xb6rg@partner.example"};
  save("utf8-and-controls", test::issue(dated(utf8), root));

  test::cert_spec nul;
  nul.cn = {std::string("evil\0.partner.example", 21)};
  nul.dns = {std::string("evil\0.partner.example", 21)};
  nul.uri = {std::string("spiffe://example.org/partner/\0x", 31)};
  nul.email = {std::string("ops@partner.example\0", 20)};
  save("embedded-nul", test::issue(dated(nul), root));

  test::cert_spec empty_subject;
  empty_subject.dns = {"only-san.partner.example"};
  empty_subject.ip = {"::ffff:10.1.2.3"};
  save("empty-subject-critical-san", test::issue(dated(empty_subject), root));

  test::cert_spec expired;
  expired.cn = {"expired"};
  expired.not_before_unix = 946684800;   // 2000-01-01
  expired.not_after_unix = 978307200;    // 2001-01-01
  save("expired-utctime", test::issue(expired, root));

  test::cert_spec eku_server;
  eku_server.cn = {"server-only"};
  eku_server.eku = test::eku_kind::server_auth;
  save("eku-server-auth", test::issue(dated(eku_server), root));
  test::cert_spec eku_none;
  eku_none.cn = {"no-eku"};
  eku_none.eku = test::eku_kind::none;
  eku_none.key_usage = std::vector<test::key_usage_kind>{test::key_usage_kind::key_agreement};
  save("eku-none-key-agreement", test::issue(dated(eku_none), root));

  test::cert_spec weak;
  weak.cn = {"weak-rsa"};
  weak.key = test::key_kind::rsa1024;
  save("weak-rsa1024", test::issue(dated(weak), root));
  test::cert_spec p224;
  p224.cn = {"weak-p224"};
  p224.key = test::key_kind::ec_p224;
  save("weak-ec-p224", test::issue(dated(p224), root));
  test::cert_spec ed;
  ed.cn = {"ed25519"};
  ed.key = test::key_kind::ed25519;
  save("ed25519-self-signed", test::make_self_signed(dated(ed)));
}

// One client against one server_connection, everything the client sends
// recorded. The server side runs exactly as in the fuzz target.
struct client_plan {
  int max_version = TLS1_3_VERSION;
  int min_version = TLS1_2_VERSION;
  const char* server_name = nullptr;
  std::vector<std::string> alpn;
  const test::issued* cert = nullptr;
  const test::issued* chain = nullptr;  // an intermediate sent after the leaf
  const char* groups = nullptr;
  bool send_data = true;
  bool key_update = false;
  bool renegotiate = false;
  SSL_SESSION* resume = nullptr;
  SSL_SESSION** keep_session = nullptr;  // receives the session (one reference)
};

struct recording {
  std::vector<std::uint8_t> client_bytes;
  std::string outcome;  // the server's view
};

std::string outcome_of(const fuzz::server_connection& server) {
  if (server.handshake_done())
    return std::string(SSL_session_reused(server.native()) == 1 ? "resumed" : "admitted") + ", " +
           std::to_string(server.application_bytes()) + " bytes of data" +
           (server.verdict().server_name.empty() ? "" : ", sni " + server.verdict().server_name);
  if (server.failed())
    return "refused: " + std::string(to_string(server.verdict().reason)) + " (" + server.verdict().detail + ")";
  return "incomplete";
}

// The input as the fuzz target runs it; one outcome per connection.
std::string replay(const std::vector<std::uint8_t>& input) {
  std::string outcomes;
  fuzz::run_input(input, [&](const fuzz::server_connection& server) {
    outcomes += (outcomes.empty() ? "" : " | ") + outcome_of(server);
  });
  return outcomes;
}

void pump_client_output(BIO* client_network, std::vector<std::uint8_t>& sent) {
  std::uint8_t buffer[4096];
  for (;;) {
    const int n = BIO_read(client_network, buffer, sizeof buffer);
    if (n <= 0) return;
    sent.insert(sent.end(), buffer, buffer + n);
  }
}

// `follows`: a second connection of the same input (run_input), which finds
// the server's state as the first one left it.
recording record(const client_plan& plan, bool follows = false) {
  const auto& fixture = fuzz::handshake_fixture::get();
  if (!follows) {
    // As run_input() does before every input.
    tls::forget_verified_chains();
    SSL_CTX_flush_sessions(fixture.main_service->native(), 0x7fffffffL);
    SSL_CTX_flush_sessions(fixture.routed_service->native(), 0x7fffffffL);
    fuzz::restart_rand(fuzz::rand_party::server);
  }
  fuzz::use_rand(fuzz::rand_party::server);
  fuzz::server_connection server(fixture);
  fuzz::restart_rand(fuzz::rand_party::client);

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) fail("SSL_CTX_new");
  if (plan.min_version < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_min_proto_version(ctx, plan.min_version);
  SSL_CTX_set_max_proto_version(ctx, plan.max_version);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  if (plan.groups && SSL_CTX_set1_groups_list(ctx, plan.groups) != 1) fail("groups");
  if (plan.cert) {
    if (SSL_CTX_use_certificate(ctx, plan.cert->cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, plan.cert->key.get()) != 1)
      fail("client certificate");
    if (plan.chain && SSL_CTX_add1_chain_cert(ctx, plan.chain->cert.get()) != 1) fail("client chain");
  }
  if (!plan.alpn.empty()) {
    std::string wire;
    for (const auto& p : plan.alpn) wire += static_cast<char>(p.size()) + p;
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned int>(wire.size()));
  }
  SSL* ssl = SSL_new(ctx);
  BIO* inner = nullptr;
  BIO* network = nullptr;
  if (!ssl || BIO_new_bio_pair(&inner, 1 << 17, &network, 1 << 17) != 1) fail("client SSL");
  SSL_set_bio(ssl, inner, inner);
  SSL_set_connect_state(ssl);
  if (plan.server_name) SSL_set_tlsext_host_name(ssl, plan.server_name);
  if (plan.resume) SSL_set_session(ssl, plan.resume);

  recording out;
  // Client step, then the server gets what the client sent; the server's
  // answer goes back into the client. Bounded: a handshake is a few rounds.
  enum class stage { handshake, data, extras, closing, done } at = stage::handshake;
  for (int round = 0; round < 50 && at != stage::done && !server.failed(); ++round) {
    fuzz::use_rand(fuzz::rand_party::client);
    std::uint8_t scratch[4096];
    if (at == stage::handshake) {
      const int r = SSL_do_handshake(ssl);
      if (r == 1) {
        at = stage::data;
      } else if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
        at = stage::done;  // refused; what was sent so far is the seed
        ERR_clear_error();
      }
    }
    if (at == stage::data) {
      if (plan.send_data) {
        static const char request[] = "GET / HTTP/1.1\r\nHost: www.fuzz.example\r\n\r\n";
        SSL_write(ssl, request, sizeof request - 1);
      }
      at = stage::extras;
    } else if (at == stage::extras) {
      // Let the client process what the server sent after the handshake
      // (tickets), then the optional extras.
      while (SSL_read(ssl, scratch, sizeof scratch) > 0) {
      }
      ERR_clear_error();
      if (plan.key_update) {
        SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED);
        SSL_write(ssl, "after key update", 16);
      }
      if (plan.renegotiate) {
        SSL_renegotiate(ssl);
        SSL_do_handshake(ssl);
        ERR_clear_error();
      }
      at = stage::closing;
    } else if (at == stage::closing) {
      while (SSL_read(ssl, scratch, sizeof scratch) > 0) {
      }
      ERR_clear_error();
      if (plan.keep_session) *plan.keep_session = SSL_get1_session(ssl);
      SSL_shutdown(ssl);
      at = stage::done;
    }
    std::vector<std::uint8_t> sent;
    pump_client_output(network, sent);
    out.client_bytes.insert(out.client_bytes.end(), sent.begin(), sent.end());
    fuzz::use_rand(fuzz::rand_party::server);
    const auto answer = server.feed(sent);
    if (!answer.empty()) BIO_write(network, answer.data(), static_cast<int>(answer.size()));
  }
  if (at == stage::done) (void)server.close_input();
  out.outcome = outcome_of(server);
  SSL_free(ssl);
  BIO_free(network);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return out;
}

void save_input(const fs::path& dir, const std::string& name, std::vector<std::uint8_t> input,
                const std::string& outcome) {
  write_bytes(dir / (name + ".bin"), input);
  std::printf("%-40s %5zu bytes: %s\n", name.c_str(), input.size(), outcome.c_str());
  // The seeds are only worth their bytes if they replay as recorded.
  const std::string replayed = replay(input);
  if (replayed != outcome) fail(name + " replays differently: " + replayed);
}

void save_recording(const fs::path& dir, const std::string& name, const recording& r, std::uint8_t control = 0) {
  std::vector<std::uint8_t> input{control};
  input.insert(input.end(), r.client_bytes.begin(), r.client_bytes.end());
  save_input(dir, name, std::move(input), r.outcome);
}

// Two connections in one input (control byte 0x80, then the first's length).
void save_pair(const fs::path& dir, const std::string& name, const recording& first, const recording& second) {
  if (first.client_bytes.size() > 0xffff) fail(name + ": first connection too long");
  std::vector<std::uint8_t> input{0x80, static_cast<std::uint8_t>(first.client_bytes.size() >> 8),
                                  static_cast<std::uint8_t>(first.client_bytes.size())};
  input.insert(input.end(), first.client_bytes.begin(), first.client_bytes.end());
  input.insert(input.end(), second.client_bytes.begin(), second.client_bytes.end());
  save_input(dir, name, std::move(input), first.outcome + " | " + second.outcome);
}

void write_handshake_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  const auto& f = fuzz::handshake_fixture::get();
  const std::vector<std::string> alpn = {"h2", "http/1.1"};

  SSL_SESSION* tls13_session = nullptr;
  client_plan p13{.server_name = fuzz::default_server_name, .alpn = alpn, .cert = &f.client_allowed,
                  .chain = &f.client_intermediate, .keep_session = &tls13_session};
  const recording full13 = record(p13);
  save_recording(dir, "tls13-client-cert-sni-alpn-data", full13);
  save_recording(dir, "tls13-client-cert-sni-alpn-data-chunked", full13, 7);

  SSL_SESSION* tls12_session = nullptr;
  client_plan p12{.max_version = TLS1_2_VERSION, .server_name = fuzz::default_server_name, .alpn = alpn,
                  .cert = &f.client_allowed, .chain = &f.client_intermediate, .keep_session = &tls12_session};
  save_recording(dir, "tls12-client-cert-full-flight-data", record(p12));

  save_recording(dir, "tls13-routed-svid",
                 record({.server_name = fuzz::routed_server_name, .alpn = {"http/1.1"}, .cert = &f.client_svid}));
  save_recording(dir, "tls13-routed-wildcard-no-cert", record({.server_name = "x.routed.example"}));
  save_recording(dir, "tls12-routed-refused-version",
                 record({.max_version = TLS1_2_VERSION, .server_name = fuzz::routed_server_name}));
  save_recording(dir, "tls13-not-whitelisted", record({.server_name = fuzz::default_server_name,
                                                       .cert = &f.client_refused}));
  save_recording(dir, "tls12-unknown-ca", record({.max_version = TLS1_2_VERSION, .cert = &f.client_stranger}));
  save_recording(dir, "tls13-no-cert-required", record({.server_name = fuzz::default_server_name}));
  save_recording(dir, "tls12-no-cert-required", record({.max_version = TLS1_2_VERSION}));
  save_recording(dir, "tls13-hello-retry-request",
                 record({.cert = &f.client_allowed, .chain = &f.client_intermediate, .groups = "ffdhe2048:X25519:P-256"}));
  save_recording(dir, "tls13-key-update", record({.cert = &f.client_allowed, .chain = &f.client_intermediate,
                                                  .key_update = true}));
  save_recording(dir, "tls12-renegotiation-attempt",
                 record({.max_version = TLS1_2_VERSION, .cert = &f.client_allowed, .chain = &f.client_intermediate,
                         .renegotiate = true}));
  // Resumption within one input: the session of a first connection offered
  // again, to the same service and, by SNI, to the other one (which must
  // not accept it: its rules differ).
  for (const bool tls13 : {true, false}) {
    const std::string version = tls13 ? "tls13" : "tls12";
    const int max_version = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    for (const bool across : {false, true}) {
      if (across && !tls13) continue;  // the routed service is TLS 1.3 only
      SSL_SESSION* session = nullptr;
      const recording first = record({.max_version = max_version, .server_name = fuzz::default_server_name,
                                      .cert = &f.client_allowed, .chain = &f.client_intermediate,
                                      .keep_session = &session});
      if (!session) fail(version + ": no session to resume");
      const recording second = record({.max_version = max_version,
                                       .server_name = across ? fuzz::routed_server_name : fuzz::default_server_name,
                                       .resume = session},
                                      true);
      SSL_SESSION_free(session);
      save_pair(dir, version + (across ? "-resume-other-service" : "-resume-same-service"), first, second);
    }
  }
  if (tls13_session) {
    save_recording(dir, "tls13-stale-psk", record({.server_name = fuzz::default_server_name, .alpn = alpn,
                                                   .cert = &f.client_allowed, .chain = &f.client_intermediate,
                                                   .resume = tls13_session}));
    SSL_SESSION_free(tls13_session);
  }
  if (tls12_session) {
    save_recording(dir, "tls12-stale-session", record({.max_version = TLS1_2_VERSION,
                                                       .server_name = fuzz::default_server_name,
                                                       .cert = &f.client_allowed,
                                                       .chain = &f.client_intermediate,
                                                       .resume = tls12_session}));
    SSL_SESSION_free(tls12_session);
  }
  save_recording(dir, "tls10-only-client",
                 record({.max_version = TLS1_VERSION, .min_version = TLS1_VERSION, .send_data = false}));

  const std::string http = "GET / HTTP/1.1\r\nHost: www.fuzz.example\r\n\r\n";
  std::vector<std::uint8_t> plain{0};
  plain.insert(plain.end(), http.begin(), http.end());
  save_input(dir, "plain-http-request", plain, "refused: other (client sent a plain HTTP request to a TLS port)");
}

// A JKS store (jks.hpp has the layout) with a private-key entry whose
// "key" is synthetic garbage under Sun's key-protector OID — no real key is
// ever written — and a trusted-certificate entry; password "changeit".
// keytool cannot write such a store, so it is put together here.
void put_u16(std::vector<std::uint8_t>& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_bytes(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}
void put_text(std::vector<std::uint8_t>& out, const std::string& text) {
  put_u16(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}
void put_certificate(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& der) {
  put_text(out, "X.509");
  put_u32(out, der.size());
  put_bytes(out, der);
}

std::vector<std::uint8_t> garbage_key_info() {
  // 20 bytes of "salt", 64 of "encrypted key", 20 of "check": a pattern,
  // not a key, so unlocking fails at the protector's check.
  std::vector<std::uint8_t> protected_bytes(104);
  for (std::size_t i = 0; i < protected_bytes.size(); ++i) protected_bytes[i] = static_cast<std::uint8_t>(0xa5 ^ i);
  X509_SIG* info = X509_SIG_new();
  X509_ALGOR* algorithm = nullptr;
  ASN1_OCTET_STRING* digest = nullptr;
  if (!info) fail("X509_SIG_new");
  X509_SIG_getm(info, &algorithm, &digest);
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.4.1.42.2.17.1.1", 1);
  if (!oid || X509_ALGOR_set0(algorithm, oid, V_ASN1_NULL, nullptr) != 1 ||
      ASN1_OCTET_STRING_set(digest, protected_bytes.data(), static_cast<int>(protected_bytes.size())) != 1)
    fail("EncryptedPrivateKeyInfo");
  unsigned char* der = nullptr;
  const int length = i2d_X509_SIG(info, &der);
  X509_SIG_free(info);
  if (length <= 0) fail("i2d_X509_SIG");
  std::vector<std::uint8_t> out(der, der + length);
  OPENSSL_free(der);
  return out;
}

void write_keystore_seed(const fs::path& dir) {
  fs::create_directories(dir);
  const auto& f = fuzz::handshake_fixture::get();
  constexpr std::uint64_t created_ms = 1704067200000ULL;  // 2024-01-01
  std::vector<std::uint8_t> store;
  put_u32(store, 0xFEEDFEED);
  put_u32(store, 2);
  put_u32(store, 2);
  put_u32(store, 1);  // private key
  put_text(store, "server");
  put_u32(store, created_ms >> 32);
  put_u32(store, created_ms & 0xffffffffULL);
  const auto key_info = garbage_key_info();
  put_u32(store, key_info.size());
  put_bytes(store, key_info);
  put_u32(store, 2);
  put_certificate(store, der_of(f.server_leaf.cert.get()));
  put_certificate(store, der_of(f.server_ca.cert.get()));
  put_u32(store, 2);  // trusted certificate
  put_text(store, "client-ca");
  put_u32(store, created_ms >> 32);
  put_u32(store, created_ms & 0xffffffffULL);
  put_certificate(store, der_of(f.client_ca.cert.get()));
  std::vector<std::uint8_t> digest_input;
  for (const char c : std::string_view("changeit")) {
    digest_input.push_back(0);
    digest_input.push_back(static_cast<std::uint8_t>(c));
  }
  const std::string_view phrase = "Mighty Aphrodite";
  digest_input.insert(digest_input.end(), phrase.begin(), phrase.end());
  put_bytes(digest_input, store);
  unsigned char digest[20];
  unsigned int length = 0;
  if (EVP_Digest(digest_input.data(), digest_input.size(), digest, &length, EVP_sha1(), nullptr) != 1) fail("SHA-1");
  store.insert(store.end(), digest, digest + length);
  write_bytes(dir / "jks-synthetic-key-entry.jks", store);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];
  (void)fuzz::handshake_fixture::get();
  fuzz::use_rand(fuzz::rand_party::setup);
  write_identity_seeds(corpus / "fuzz_identity");
  write_handshake_seeds(corpus / "fuzz_tls_handshake");
  write_keystore_seed(corpus / "fuzz_keystore");
  return 0;
}
