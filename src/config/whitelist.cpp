// Owner: config module. The client-certificate whitelist as written in the
// config; matching itself lives in the identity module.
#include "config/whitelist.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <string_view>
#include <vector>

#include "config/text_util.hpp"
#include "mtlsd/identity/spiffe_id.hpp"

namespace mtlsd::config_detail {
namespace {

constexpr std::string_view allow_fields[] = {"cn", "ou", "o", "dns", "uri", "ip", "email", "sha256",
                                             "spiffe_trust_domain", "spiffe_id"};

std::vector<std::string>* field_of(allow_rules& rules, std::string_view name) {
  if (name == "cn") return &rules.cn;
  if (name == "ou") return &rules.ou;
  if (name == "o") return &rules.o;
  if (name == "dns") return &rules.dns;
  if (name == "uri") return &rules.uri;
  if (name == "ip") return &rules.ip;
  if (name == "email") return &rules.email;
  if (name == "sha256") return &rules.sha256;
  if (name == "spiffe_trust_domain") return &rules.spiffe_trust_domain;
  if (name == "spiffe_id") return &rules.spiffe_id;
  return nullptr;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Fingerprints are copied from tools that print "AB:CD:..." or "ab cd ...";
// accept those spellings and keep one canonical form for comparison.
std::optional<std::string> normalise_sha256(const std::string& text, std::string& error) {
  std::string digits;
  bool hex_only = true;
  for (char c : text) {
    if (c == ':' || c == ' ') continue;
    if (!is_hex(c)) hex_only = false;
    digits += c;
  }
  if (!hex_only || digits.size() != 64) {
    error = "not a SHA-256 fingerprint: expected 64 hex digits (got " + quote(text) + ")";
    return std::nullopt;
  }
  return ascii_lower(digits);
}

std::optional<std::string> normalise_ip(const std::string& text, std::string& error) {
  std::array<unsigned char, sizeof(in6_addr)> raw{};
  std::array<char, INET6_ADDRSTRLEN> out{};
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, text.c_str(), raw.data()) == 1 &&
        inet_ntop(family, raw.data(), out.data(), out.size()) != nullptr) {
      return std::string(out.data());
    }
  }
  error = "not an IP address: " + quote(text);
  return std::nullopt;
}

// "*.example.com" matches exactly one leftmost label; any other '*' would
// promise a match the identity module never makes.
bool valid_dns_pattern(const std::string& text, std::string& error) {
  const std::size_t star = text.find('*');
  if (star == std::string::npos) return true;
  if (star == 0 && text.size() > 2 && text[1] == '.' && text.find('*', 1) == std::string::npos) return true;
  error = "invalid DNS pattern " + quote(text) + ": '*' is only allowed as the whole leftmost label (\"*.example.com\")";
  return false;
}

// A URI ending in "/*" is a prefix rule; a '*' anywhere else would be taken
// for a wildcard by a reader yet match only literally.
bool valid_uri_pattern(const std::string& text, std::string& error) {
  const std::size_t star = text.find('*');
  if (star == std::string::npos) return true;
  if (star == text.size() - 1 && star > 0 && text[star - 1] == '/') return true;
  error = "invalid URI pattern " + quote(text) + ": '*' is only allowed as a trailing \"/*\" (prefix match)";
  return false;
}

bool valid_trust_domain(const std::string& text, std::string& error) {
  if (text.starts_with("spiffe://")) {
    error = "invalid SPIFFE trust domain " + quote(text) +
            ": write the trust domain name alone (\"example.org\"); whole IDs go in spiffe_id";
    return false;
  }
  if (std::string why = spiffe_trust_domain_problem(text); !why.empty()) {
    error = "invalid SPIFFE trust domain " + quote(text) + ": " + why;
    return false;
  }
  return true;
}

// A SPIFFE ID, or one ending in "/*" for every ID below it (the uri
// convention); what comes before "/*" must itself be a valid ID, so a rule
// can never promise a match that no valid SVID could make.
bool valid_spiffe_id_pattern(const std::string& text, std::string& error) {
  const bool prefix = text.ends_with("/*");
  const std::string_view id = prefix ? std::string_view(text).substr(0, text.size() - 2) : std::string_view(text);
  if (id.find('*') != std::string_view::npos) {
    error = "invalid SPIFFE ID pattern " + quote(text) + ": '*' is only allowed as a trailing \"/*\" (prefix match)";
    return false;
  }
  if (prefix && id.size() < spiffe_scheme.size()) {
    error = "invalid SPIFFE ID pattern " + quote(text) + ": \"/*\" must follow a trust domain (\"spiffe://example.org/*\")";
    return false;
  }
  if (std::string why = spiffe_id_problem(id); !why.empty()) {
    error = "invalid SPIFFE ID " + quote(text) + ": " + why;
    return false;
  }
  return true;
}

std::optional<std::string> normalise_entry(std::string_view field, const std::string& text, std::string& error) {
  if (text.empty()) {
    error = "empty string is not a valid entry";
    return std::nullopt;
  }
  if (field == "sha256") return normalise_sha256(text, error);
  if (field == "ip") return normalise_ip(text, error);
  if (field == "dns" && !valid_dns_pattern(text, error)) return std::nullopt;
  if (field == "uri" && !valid_uri_pattern(text, error)) return std::nullopt;
  if (field == "spiffe_trust_domain" && !valid_trust_domain(text, error)) return std::nullopt;
  if (field == "spiffe_id" && !valid_spiffe_id_pattern(text, error)) return std::nullopt;
  return text;
}

}  // namespace

std::optional<allow_rules> read_allow_rules(diagnostics& diag, const toml::node& node, const std::string& key,
                                            std::map<std::string, source_position>& positions) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    diag.report(diag.at(node), key, "expected a table, got " + std::string(type_name(node)));
    return std::nullopt;
  }
  positions["allow"] = diag.at(node);
  allow_rules rules;
  std::size_t written_entries = 0;
  for (auto&& [name, value] : *table) {
    const std::string field_key = key + "." + std::string(name.str());
    std::vector<std::string>* field = field_of(rules, name.str());
    if (field == nullptr) {
      report_unknown_key(diag, name, value, field_key, allow_fields);
      continue;
    }
    positions["allow." + std::string(name.str())] = diag.at(value);
    // A mistyped field already has its own error; it must not also count as empty.
    const auto* array = value.as_array();
    written_entries += array != nullptr ? array->size() : 1;
    auto entries = read_string_array(diag, value, field_key);
    if (!entries) continue;
    for (const string_entry& entry : *entries) {
      std::string error;
      if (auto normal = normalise_entry(name.str(), entry.value, error)) {
        field->push_back(std::move(*normal));
      } else {
        diag.report(entry.where, field_key, error);
      }
    }
  }
  if (written_entries == 0) {
    // An empty whitelist would lock everyone out without a word; make the
    // operator say what they mean instead.
    const std::string header = key.starts_with("defaults") ? "[defaults.allow]" : "[service.allow]";
    diag.report(diag.at(node), key,
                "empty whitelist admits nobody; remove " + header +
                    " to admit any certificate from the truststore");
  }
  return rules;
}

}  // namespace mtlsd::config_detail
