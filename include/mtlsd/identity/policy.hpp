#pragma once
// The client-certificate whitelist of one service, compiled for lookups whose
// cost does not grow with the number of rules, and the one function that
// decides admission. Pure: no I/O, no OpenSSL, safe to share across threads
// once built.

#include <cstddef>
#include <string>
#include <unordered_set>
#include <vector>

#include "mtlsd/config/config.hpp"
#include "mtlsd/identity/identity.hpp"

namespace mtlsd {

class allow_policy {
 public:
  // A policy with no rules admits every certificate that chained to the truststore.
  allow_policy() = default;
  explicit allow_policy(const allow_rules& rules);

  bool restricts() const { return restricts_; }
  const allow_rules& rules() const { return rules_; }

 private:
  friend struct admission admit(const client_identity&, const allow_policy&);

  bool restricts_ = false;
  allow_rules rules_;
  std::unordered_set<std::string> cn_, ou_, o_, uri_exact_, email_, ip_, sha256_;
  std::unordered_set<std::string> dns_exact_;     // lowercased
  std::unordered_set<std::string> dns_wildcard_;  // "*.a.b" stored as "a.b", lowercased
  std::unordered_set<std::string> uri_prefix_;    // "spiffe://x/y/*" stored as "spiffe://x/y/"
  std::size_t uri_prefix_longest_ = 0;            // bounds the prefix lookups per URI value
  // Any spiffe_* rule: a leaf no other field admits must be an X.509-SVID (svid_violation()).
  bool svid_required_ = false;
  std::unordered_set<std::string> spiffe_trust_domain_, spiffe_id_exact_;
  std::unordered_set<std::string> spiffe_id_prefix_;  // as uri_prefix_
  std::size_t spiffe_id_prefix_longest_ = 0;
};

struct admission {
  bool allowed = false;
  // When allowed: the rule that matched, e.g. `cn="partner-a"`, or "any" when
  // the policy does not restrict. When refused: every identity value compared,
  // by field, e.g. `cn=["partner-b"] dns=["b.partner.example"] sha256=3a5f...`.
  std::string detail;
  // Refused because the policy has spiffe_* rules and the leaf is not a valid
  // X.509-SVID (detail: the rule broken and the values seen) rather than for
  // matching no rule.
  bool invalid_svid = false;
};

// Rules: exact matching only. CN/OU/O/URI/email are case-sensitive; DNS is
// case-insensitive and "*.x" matches exactly one extra leftmost label; URI
// rules ending in "/*" match by prefix. A subject with several CNs never
// matches a CN rule; a value with an embedded NUL never matches anything.
admission admit(const client_identity& identity, const allow_policy& policy);

// The X.509-SVID rules for a leaf (SPIFFE X509-SVID spec, sections 2, 4.1 and
// 4.3): exactly one URI SAN holding a valid SPIFFE ID, basicConstraints cA
// false (absent counts as false), keyUsage present with digitalSignature and
// without keyCertSign or cRLSign. Empty when `identity` keeps them all,
// otherwise the first rule broken and the values seen. admit() applies this
// to every leaf when the policy has a spiffe_* rule.
std::string svid_violation(const client_identity& identity);

}  // namespace mtlsd
