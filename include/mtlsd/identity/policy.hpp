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
};

struct admission {
  bool allowed = false;
  // When allowed: the rule that matched, e.g. `cn="partner-a"`, or "any" when
  // the policy does not restrict. When refused: every identity value compared,
  // by field, e.g. `cn=["partner-b"] dns=["b.partner.example"] sha256=3a5f...`.
  std::string detail;
};

// Rules: exact matching only. CN/OU/O/URI/email are case-sensitive; DNS is
// case-insensitive and "*.x" matches exactly one extra leftmost label; URI
// rules ending in "/*" match by prefix. A subject with several CNs never
// matches a CN rule; a value with an embedded NUL never matches anything.
admission admit(const client_identity& identity, const allow_policy& policy);

}  // namespace mtlsd
