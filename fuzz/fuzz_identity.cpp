// Arbitrary bytes as a client certificate (DER), through everything that
// judges a leaf on its own, without a chain: identity extraction, the
// whitelist against fixed policies covering every field, the X.509-SVID
// rules, the chain policy's key, EKU and name-constraint checks, and the
// text every log line names a certificate with. Properties checked:
//   - every text meant for a log line (subject, issuer, the certificate
//     description, admission and refusal details) is valid UTF-8 without
//     control, line-separator or bidi characters;
//   - admit() agrees with a naive reading of the rules (policy.hpp: exact
//     values, one-label DNS wildcards, "/*" URI prefixes, one CN only, never a
//     value holding NUL), and a rule naming a value of the certificate
//     (without NUL) admits it;
//   - svid_violation() is empty exactly when the SVID rules hold;
//   - a refused chain check says why and which OpenSSL error stands for it.
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/identity/policy.hpp"
#include "mtlsd/identity/spiffe_id.hpp"
#include "mtlsd/tls/chain_policy.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "pki.hpp"
#include "tls/verify_callback.hpp"

namespace {

using namespace mtlsd;

void require(bool condition) {
  if (!condition) std::abort();
}

bool has_nul(const std::string& value) { return value.find('\0') != std::string::npos; }

// What a log line may carry: valid UTF-8, no C0/C1 controls, DEL, U+2028/9
// or bidi controls (identity.hpp: "controls, deceptive characters and
// invalid bytes escaped").
bool log_safe(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (length == 0 || c > 0xf4 || i + length > text.size()) return false;
    std::uint32_t code = c & (0xff >> (length + 1));
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10ffff))) return false;
    if (code >= 0xd800 && code <= 0xdfff) return false;
    if (code >= 0x80 && code <= 0x9f) return false;
    if (code == 0x2028 || code == 0x2029 || (code >= 0x202a && code <= 0x202e) ||
        (code >= 0x2066 && code <= 0x2069) || code == 0x200e || code == 0x200f || code == 0x061c)
      return false;
    i += length;
  }
  return true;
}

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool any_exact(const std::vector<std::string>& values, const std::vector<std::string>& rules) {
  return std::any_of(values.begin(), values.end(),
                     [&](const std::string& v) { return !has_nul(v) && contains(rules, v); });
}

bool dns_matches(const std::string& value, const std::vector<std::string>& rules) {
  if (has_nul(value)) return false;
  const std::string v = lower(value);
  for (const auto& raw : rules) {
    const std::string rule = lower(raw);
    const bool wildcard = rule.size() > 2 && rule.starts_with("*.");
    if (!wildcard) {
      if (v == rule) return true;
      continue;
    }
    const std::size_t dot = v.find('.');
    if (v.find('*') == std::string::npos && dot != std::string::npos && dot > 0 && dot + 1 < v.size() &&
        v.substr(dot + 1) == rule.substr(2))
      return true;
  }
  return false;
}

bool uri_matches(const std::string& value, const std::vector<std::string>& rules) {
  if (has_nul(value)) return false;
  for (const auto& rule : rules) {
    if (rule.size() >= 2 && rule.ends_with("/*")) {
      const std::string prefix = rule.substr(0, rule.size() - 1);
      if (value.starts_with(prefix) && value.size() > prefix.size()) return true;
    } else if (value == rule) {
      return true;
    }
  }
  return false;
}

std::string fingerprint_of(const std::string& text) {
  std::string out = lower(text);
  out.erase(std::remove(out.begin(), out.end(), ':'), out.end());
  return out;
}

// policy.hpp read as plainly as possible; rules here are written in the
// canonical form (IPs as inet_ntop prints them), as the loader stores them.
bool naive_admits(const client_identity& id, const allow_rules& rules) {
  const bool spiffe = !rules.spiffe_trust_domain.empty() || !rules.spiffe_id.empty();
  if (rules.cn.empty() && rules.ou.empty() && rules.o.empty() && rules.dns.empty() && rules.uri.empty() &&
      rules.ip.empty() && rules.email.empty() && rules.sha256.empty() && !spiffe)
    return true;
  if (id.cn.size() == 1 && any_exact(id.cn, rules.cn)) return true;
  if (any_exact(id.ou, rules.ou) || any_exact(id.o, rules.o) || any_exact(id.ip, rules.ip) ||
      any_exact(id.email, rules.email))
    return true;
  for (const auto& v : id.dns) {
    if (dns_matches(v, rules.dns)) return true;
  }
  for (const auto& v : id.uri) {
    if (uri_matches(v, rules.uri)) return true;
  }
  if (!id.sha256.empty()) {
    for (const auto& pin : rules.sha256) {
      if (fingerprint_of(pin) == id.sha256) return true;
    }
  }
  if (spiffe && svid_violation(id).empty()) {
    std::string_view domain;
    require(spiffe_id_problem(id.uri.front(), &domain).empty());
    if (contains(rules.spiffe_trust_domain, std::string(domain))) return true;
    if (uri_matches(id.uri.front(), rules.spiffe_id)) return true;
  }
  return false;
}

void check_admission(const client_identity& id, const allow_rules& rules) {
  const allow_policy policy(rules);
  const admission verdict = admit(id, policy);
  require(verdict.allowed == naive_admits(id, rules));
  require(!(verdict.allowed && verdict.invalid_svid));
  require(log_safe(verdict.detail));
  if (verdict.allowed) require(!verdict.detail.empty());
}

// A rule naming one of the certificate's own values must admit it.
void check_own_values_admit(const client_identity& id) {
  auto first_clean = [](const std::vector<std::string>& values) -> const std::string* {
    for (const auto& v : values) {
      if (!has_nul(v)) return &v;
    }
    return nullptr;
  };
  auto expect_admitted = [&](const allow_rules& rules) { require(admit(id, allow_policy(rules)).allowed); };
  if (id.cn.size() == 1 && !has_nul(id.cn.front())) expect_admitted(allow_rules{.cn = {id.cn.front()}});
  if (const auto* v = first_clean(id.ou)) expect_admitted(allow_rules{.ou = {*v}});
  if (const auto* v = first_clean(id.o)) expect_admitted(allow_rules{.o = {*v}});
  // A certificate claiming "*.x" is never "one label under x", and a rule
  // spelled "*.x" is a wildcard rule (policy_test: only matched literally
  // by non-wildcard rules).
  for (const auto& v : id.dns) {
    if (has_nul(v) || (v.size() > 2 && v.starts_with("*."))) continue;
    expect_admitted(allow_rules{.dns = {v}});
    break;
  }
  if (const auto* v = first_clean(id.uri)) expect_admitted(allow_rules{.uri = {*v}});
  if (const auto* v = first_clean(id.ip)) expect_admitted(allow_rules{.ip = {*v}});
  if (const auto* v = first_clean(id.email)) expect_admitted(allow_rules{.email = {*v}});
  if (!id.sha256.empty()) expect_admitted(allow_rules{.sha256 = {colon_hex(id.sha256)}});
}

void check_svid(const client_identity& id) {
  const std::string why = svid_violation(id);
  require(log_safe(why));
  const bool holds = id.uri.size() == 1 && spiffe_id_problem(id.uri.front()).empty() && !id.is_ca &&
                     id.has_key_usage && (id.key_usage & key_usage_bit::digital_signature) != 0 &&
                     (id.key_usage & (key_usage_bit::key_cert_sign | key_usage_bit::crl_sign)) == 0;
  require(why.empty() == holds);
}

void check_chain_check(const tls::chain_check& check) {
  if (!check.passed) require(!check.detail.empty() && check.verify_error != 0);
}

// Fixed policies, one field family each and one with everything, so each
// field's matcher sees every input.
std::vector<allow_rules> make_policies() {
  std::vector<allow_rules> out;
  out.push_back(allow_rules{.cn = {"partner-a", "Jos\xc3\xa9"}, .ou = {"payments"}, .o = {"Example Corp"}});
  out.push_back(allow_rules{.dns = {"api.partner.example", "*.partner.example", "a*.b.example"},
                            .ip = {"10.1.2.3", "2001:db8::1"},
                            .email = {"ops@partner.example"}});
  out.push_back(allow_rules{.uri = {"spiffe://example.org/partner/*", "https://id.example/exact"},
                            .sha256 = {"3A:5F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"
                                       "77:88:99:AA:BB:CC:DD"}});
  out.push_back(allow_rules{.spiffe_trust_domain = {"example.org"}, .spiffe_id = {"spiffe://other.example/ns/*"}});
  allow_rules all;
  for (const auto& p : out) {
    all.cn.insert(all.cn.end(), p.cn.begin(), p.cn.end());
    all.ou.insert(all.ou.end(), p.ou.begin(), p.ou.end());
    all.o.insert(all.o.end(), p.o.begin(), p.o.end());
    all.dns.insert(all.dns.end(), p.dns.begin(), p.dns.end());
    all.uri.insert(all.uri.end(), p.uri.begin(), p.uri.end());
    all.ip.insert(all.ip.end(), p.ip.begin(), p.ip.end());
    all.email.insert(all.email.end(), p.email.begin(), p.email.end());
    all.sha256.insert(all.sha256.end(), p.sha256.begin(), p.sha256.end());
    all.spiffe_trust_domain.insert(all.spiffe_trust_domain.end(), p.spiffe_trust_domain.begin(),
                                   p.spiffe_trust_domain.end());
    all.spiffe_id.insert(all.spiffe_id.end(), p.spiffe_id.begin(), p.spiffe_id.end());
  }
  out.push_back(all);
  out.push_back(allow_rules{});  // no restriction
  return out;
}

// A constrained CA above the fuzzed leaf, and a plain leaf below the fuzzed
// certificate taken as a CA: both directions of check_name_constraints.
struct fixture {
  std::vector<allow_rules> policies = make_policies();
  test::issued ca;
  test::issued leaf;

  fixture() {
    test::cert_spec ca_spec;
    ca_spec.cn = {"Fuzz Constrained CA"};
    ca_spec.is_ca = true;
    ca_spec.permitted_names = {"dns:.partner.example", "email:partner.example", "uri:.example.org",
                               "ip:10.0.0.0/8"};
    ca_spec.excluded_names = {"dns:bad.partner.example", "ip:10.9.0.0/16"};
    ca = test::make_self_signed(ca_spec);
    test::cert_spec leaf_spec;
    leaf_spec.cn = {"leaf.partner.example"};
    leaf_spec.dns = {"leaf.partner.example"};
    leaf_spec.email = {"a@partner.example"};
    leaf_spec.ip = {"10.1.2.3"};
    leaf = test::issue(leaf_spec, ca);
  }
};

const fixture& shared() {
  static const fixture f;
  return f;
}

void check_name_constraints_both_ways(X509* cert) {
  const fixture& f = shared();
  STACK_OF(X509)* chain = sk_X509_new_null();
  require(chain != nullptr);
  sk_X509_push(chain, cert);
  sk_X509_push(chain, f.ca.cert.get());
  check_chain_check(tls::check_name_constraints(chain, 0));
  sk_X509_zero(chain);
  sk_X509_push(chain, f.leaf.cert.get());
  sk_X509_push(chain, cert);
  check_chain_check(tls::check_name_constraints(chain, 0));
  sk_X509_free(chain);  // the certificates belong to their owners
}

void judge(const std::uint8_t* data, std::size_t size) {
  const unsigned char* cursor = data;
  ossl::x509_ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(size)));
  if (!cert) {
    // Still a name: the escaping of whatever a DN can hold.
    cursor = data;
    X509_NAME* name = d2i_X509_NAME(nullptr, &cursor, static_cast<long>(size));
    if (name != nullptr) {
      require(log_safe(distinguished_name(name)));
      X509_NAME_free(name);
    }
    return;
  }

  const client_identity id = extract_identity(cert.get());
  require(log_safe(id.subject) && log_safe(id.issuer) && log_safe(id.serial));
  require(id.sha256.size() == 64 && fingerprint_of(id.sha256) == id.sha256);
  require(colon_hex(id.sha256).size() == 95);
  require(key_usage_names(id.key_usage) != "");
  for (const auto* values : {&id.cn, &id.ou, &id.o}) {
    // An undecodable attribute is kept, marked so it can never match.
    for (const auto& v : *values) {
      if (v.starts_with(std::string_view("\0undecodable:", 13))) require(has_nul(v));
    }
  }
  require(log_safe(tls::describe_certificate(cert.get(), 0)));
  require(log_safe(tls::describe_certificate(cert.get(), 2)));

  for (const auto& rules : shared().policies) check_admission(id, rules);
  check_own_values_admit(id);
  check_svid(id);

  for (const auto role : {tls::chain_role::leaf, tls::chain_role::intermediate, tls::chain_role::anchor}) {
    const tls::chain_check strength = tls::check_key_strength(cert.get(), role);
    check_chain_check(strength);
    require(log_safe(strength.detail));
  }
  for (const bool require_eku : {true, false}) {
    const tls::chain_check eku = tls::check_client_auth_eku(cert.get(), require_eku);
    check_chain_check(eku);
  }
  check_name_constraints_both_ways(cert.get());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)shared();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  judge(data, size);
  // OpenSSL's error queue keeps what parsing left there; emptied, the input
  // frees what it allocated and libFuzzer skips its costly leak scan.
  ERR_clear_error();
  return 0;
}
