// The client-certificate whitelist (policy.hpp). Owned by the identity module.
// Compiled once per service at startup; admit() runs once per handshake and
// does only hash lookups, bounded by the size of the certificate's values
// and never by the number of rules.

#include "mtlsd/identity/policy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "identity/text_escape.hpp"
#include "mtlsd/identity/spiffe_id.hpp"

namespace mtlsd {
namespace {

using string_set = std::unordered_set<std::string>;

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool has_nul(const std::string& value) { return value.find('\0') != std::string::npos; }

// The loader already stores inet_ntop form; doing it again here keeps the
// policy correct for callers that build rules by hand (tests, tools).
std::string normalise_ip(const std::string& text) {
  std::array<unsigned char, 16> octets{};
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_pton(AF_INET, text.c_str(), octets.data()) == 1 &&
      inet_ntop(AF_INET, octets.data(), buf.data(), buf.size()) != nullptr) {
    return buf.data();
  }
  if (inet_pton(AF_INET6, text.c_str(), octets.data()) == 1 &&
      inet_ntop(AF_INET6, octets.data(), buf.data(), buf.size()) != nullptr) {
    return buf.data();
  }
  return text;
}

std::string normalise_sha256(const std::string& text) {
  std::string out = ascii_lower(text);
  out.erase(std::remove(out.begin(), out.end(), ':'), out.end());
  return out;
}

std::string quote_value(std::string_view value) {
  return '"' + detail::escape_text(value, detail::escape_style::quoted) + '"';
}

admission allowed(std::string_view field, std::string_view rule) {
  return admission{true, std::string(field) + '=' + quote_value(rule)};
}

// Exact lookup for case-sensitive fields. Returns the value that matched.
const std::string* find_exact(const std::vector<std::string>& values, const string_set& rules) {
  for (const auto& value : values) {
    if (!has_nul(value) && rules.count(value) != 0) return &value;
  }
  return nullptr;
}

// On success `rule` is the rule as compiled: "a.example" or "*.example".
bool match_dns(const std::vector<std::string>& values, const string_set& exact, const string_set& wildcard,
               std::string& rule) {
  for (const auto& value : values) {
    if (has_nul(value)) continue;
    std::string lower = ascii_lower(value);
    if (exact.count(lower) != 0) {
      rule = std::move(lower);
      return true;
    }
    // A certificate that itself claims a wildcard is not "one label under"
    // anything: a rule "*.x" admits one concrete name, never a certificate
    // valid for all of them.
    if (lower.find('*') != std::string::npos) continue;
    const std::size_t dot = lower.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 >= lower.size()) continue;
    std::string parent = lower.substr(dot + 1);
    if (wildcard.count(parent) != 0) {
      rule = "*." + parent;
      return true;
    }
  }
  return false;
}

// Prefix rules end in '/', so only the value's '/' boundaries can match, and
// none longer than the longest rule: cost bounded by the value, not the rules.
bool match_uri(const std::vector<std::string>& values, const string_set& exact, const string_set& prefixes,
               std::size_t longest_prefix, std::string& rule) {
  for (const auto& value : values) {
    if (has_nul(value)) continue;
    if (exact.count(value) != 0) {
      rule = value;
      return true;
    }
    if (prefixes.empty() || value.empty()) continue;
    const std::size_t limit = std::min(longest_prefix, value.size() - 1);  // value must be longer
    for (std::size_t slash = value.find('/'); slash != std::string::npos && slash < limit;
         slash = value.find('/', slash + 1)) {
      std::string prefix = value.substr(0, slash + 1);
      if (prefixes.count(prefix) != 0) {
        rule = std::move(prefix) + '*';
        return true;
      }
    }
  }
  return false;
}

void append_list(std::string& out, std::string_view field, const std::vector<std::string>& values) {
  if (!out.empty()) out += ' ';
  out += field;
  out += "=[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += quote_value(values[i]);
  }
  out += ']';
}

std::string refusal_detail(const client_identity& id, const allow_rules& rules) {
  std::string out;
  bool nul_seen = false;
  auto field = [&](std::string_view name, const std::vector<std::string>& rule_list,
                   const std::vector<std::string>& values) {
    if (rule_list.empty()) return;
    append_list(out, name, values);
    nul_seen = nul_seen || std::any_of(values.begin(), values.end(), has_nul);
  };
  field("cn", rules.cn, id.cn);
  field("ou", rules.ou, id.ou);
  field("o", rules.o, id.o);
  field("dns", rules.dns, id.dns);
  field("uri", rules.uri, id.uri);
  field("ip", rules.ip, id.ip);
  field("email", rules.email, id.email);
  if (!rules.sha256.empty()) {
    if (!out.empty()) out += ' ';
    out += "sha256=";
    out += id.sha256.empty() ? std::string("none")
                             : detail::escape_text(id.sha256, detail::escape_style::quoted);
  }
  if ((!rules.spiffe_trust_domain.empty() || !rules.spiffe_id.empty()) && !id.uri.empty()) {
    // Only reached for a valid SVID, so the one URI is a well-formed ID.
    std::string_view domain;
    (void)spiffe_id_problem(id.uri.front(), &domain);
    if (!out.empty()) out += ' ';
    out += "spiffe_id=" + quote_value(id.uri.front()) + " spiffe_trust_domain=" + quote_value(domain);
  }
  if (!rules.cn.empty() && id.cn.size() > 1) {
    out += " (" + std::to_string(id.cn.size()) + " CNs: CN rules need exactly one)";
  }
  if (nul_seen) out += " (values containing NUL never match)";
  return out;
}

// "<id>/*" -> "<id>/" in `prefixes`, anything else exact: the uri convention.
void add_uri_rule(const std::string& rule, string_set& exact, string_set& prefixes, std::size_t& longest) {
  if (rule.size() >= 2 && rule.compare(rule.size() - 2, 2, "/*") == 0) {
    std::string prefix = rule.substr(0, rule.size() - 1);
    longest = std::max(longest, prefix.size());
    prefixes.insert(std::move(prefix));
  } else {
    exact.insert(rule);
  }
}

}  // namespace

std::string svid_violation(const client_identity& id) {
  if (id.uri.size() != 1) {
    std::string out = "expected exactly one URI SAN, found " + std::to_string(id.uri.size());
    if (!id.uri.empty()) {
      out += ": ";
      std::string list;
      append_list(list, "uri", id.uri);
      out += list;
    }
    return out;
  }
  if (std::string why = spiffe_id_problem(id.uri.front()); !why.empty()) {
    return "URI SAN " + quote_value(id.uri.front()) + " is not a valid SPIFFE ID: " + why;
  }
  if (id.is_ca) return "basicConstraints has cA=TRUE: an SVID leaf must not be a CA certificate";
  if (!id.has_key_usage) return "keyUsage extension is missing: an SVID leaf needs keyUsage with digitalSignature";
  if ((id.key_usage & key_usage_bit::digital_signature) == 0) {
    return "keyUsage=" + key_usage_names(id.key_usage) + " lacks digitalSignature";
  }
  if ((id.key_usage & (key_usage_bit::key_cert_sign | key_usage_bit::crl_sign)) != 0) {
    return "keyUsage=" + key_usage_names(id.key_usage) + " has keyCertSign or cRLSign, which an SVID leaf must not";
  }
  return {};
}

allow_policy::allow_policy(const allow_rules& rules) : rules_(rules) {
  cn_.insert(rules.cn.begin(), rules.cn.end());
  ou_.insert(rules.ou.begin(), rules.ou.end());
  o_.insert(rules.o.begin(), rules.o.end());
  email_.insert(rules.email.begin(), rules.email.end());
  for (const auto& rule : rules.ip) ip_.insert(normalise_ip(rule));
  for (const auto& rule : rules.sha256) sha256_.insert(normalise_sha256(rule));
  for (const auto& rule : rules.dns) {
    std::string lower = ascii_lower(rule);
    if (lower.size() > 2 && lower.compare(0, 2, "*.") == 0) {
      dns_wildcard_.insert(lower.substr(2));
    } else {
      dns_exact_.insert(std::move(lower));
    }
  }
  for (const auto& rule : rules.uri) add_uri_rule(rule, uri_exact_, uri_prefix_, uri_prefix_longest_);
  spiffe_trust_domain_.insert(rules.spiffe_trust_domain.begin(), rules.spiffe_trust_domain.end());
  for (const auto& rule : rules.spiffe_id) {
    add_uri_rule(rule, spiffe_id_exact_, spiffe_id_prefix_, spiffe_id_prefix_longest_);
  }
  svid_required_ = !rules.spiffe_trust_domain.empty() || !rules.spiffe_id.empty();
  // Counted here rather than with allow_rules::size(): that lives in the
  // config library, which this module does not link.
  restricts_ = !(rules.cn.empty() && rules.ou.empty() && rules.o.empty() && rules.dns.empty() &&
                 rules.uri.empty() && rules.ip.empty() && rules.email.empty() && rules.sha256.empty()) ||
               svid_required_;
}

admission admit(const client_identity& id, const allow_policy& policy) {
  if (!policy.restricts_) return admission{true, "any"};

  // RFC 5280 allows several CNs; which one is "the" name is ambiguous, so a
  // CN rule only ever applies to a subject with exactly one.
  if (id.cn.size() == 1) {
    if (const auto* hit = find_exact(id.cn, policy.cn_)) return allowed("cn", *hit);
  }
  if (const auto* hit = find_exact(id.ou, policy.ou_)) return allowed("ou", *hit);
  if (const auto* hit = find_exact(id.o, policy.o_)) return allowed("o", *hit);
  std::string rule;
  if (match_dns(id.dns, policy.dns_exact_, policy.dns_wildcard_, rule)) return allowed("dns", rule);
  if (match_uri(id.uri, policy.uri_exact_, policy.uri_prefix_, policy.uri_prefix_longest_, rule)) {
    return allowed("uri", rule);
  }
  if (const auto* hit = find_exact(id.ip, policy.ip_)) return allowed("ip", *hit);
  if (const auto* hit = find_exact(id.email, policy.email_)) return allowed("email", *hit);
  if (!id.sha256.empty() && !has_nul(id.sha256)) {
    const std::string fingerprint = normalise_sha256(id.sha256);
    // Unquoted, as in the refusal detail: a fingerprint is only hex digits.
    if (policy.sha256_.count(fingerprint) != 0) return admission{true, "sha256=" + fingerprint};
  }
  if (policy.svid_required_) {
    // SPIFFE rules judge only X.509-SVIDs; a certificate that is not one can
    // still be admitted by the other fields above, and when nothing did, the
    // broken SVID rule is the more useful explanation.
    if (std::string why = svid_violation(id); !why.empty()) return admission{false, std::move(why), true};
    // A valid SVID by now: one URI SAN, "spiffe://<domain>[/path]".
    const std::string& spiffe_id = id.uri.front();
    const std::size_t domain_end = spiffe_id.find('/', spiffe_scheme.size());
    std::string domain = spiffe_id.substr(spiffe_scheme.size(), domain_end - spiffe_scheme.size());
    if (policy.spiffe_trust_domain_.count(domain) != 0) return allowed("spiffe_trust_domain", domain);
    if (match_uri(id.uri, policy.spiffe_id_exact_, policy.spiffe_id_prefix_, policy.spiffe_id_prefix_longest_,
                  rule)) {
      return allowed("spiffe_id", rule);
    }
  }
  return admission{false, refusal_detail(id, policy.rules_)};
}

}  // namespace mtlsd
