// Owner: config module tests. The identity policy keys: [service.allow]
// spiffe_trust_domain and spiffe_id (validated against the SPIFFE ID syntax
// at load, every error at its entry) and require_client_auth_eku.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

// [service.allow] is on line 8; a field written "name = [" on line 9 has its
// entries one per line from line 10, column 3.
constexpr std::string_view service_head = R"(
[[service]]
name = "p"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
[service.allow]
)";

class identity_keys : public config_dir_test {
 protected:
  load_result load_allow(std::string_view allow_body) const {
    return load(std::string(service_head) + std::string(allow_body));
  }

  // Each entry on its own line of `field = [ ... ]`; every one must be
  // refused at its own line with its own message.
  void expect_each_refused(const std::string& field, const std::vector<std::pair<std::string, std::string>>& cases) {
    std::string body = field + " = [\n";
    for (const auto& [entry, message] : cases) body += "  \"" + entry + "\",\n";
    body += "]\n";
    const load_result r = load_allow(body);
    EXPECT_EQ(r.errors.size(), cases.size()) << describe(r.errors);
    int line = 10;
    for (const auto& [entry, message] : cases) {
      EXPECT_TRUE(has_error(r, line, 3, "service[p].allow." + field, message)) << entry;
      ++line;
    }
  }
};

TEST_F(identity_keys, spiffe_rules_are_stored_as_written_and_count_as_rules) {
  const load_result r = load_allow(R"(spiffe_trust_domain = ["example.org", "prod.example-2.org_x"]
spiffe_id = ["spiffe://example.org/ns/prod/sa/api", "spiffe://example.org/ns/prod/*", "spiffe://other.org",
             "spiffe://other.org/*", "spiffe://a.b/A-Z_0.9/x"]
)");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const allow_rules& a = *r.cfg.services[0].allow;
  EXPECT_EQ(a.spiffe_trust_domain, (std::vector<std::string>{"example.org", "prod.example-2.org_x"}));
  EXPECT_EQ(a.spiffe_id, (std::vector<std::string>{"spiffe://example.org/ns/prod/sa/api", "spiffe://example.org/ns/prod/*",
                                                   "spiffe://other.org", "spiffe://other.org/*",
                                                   "spiffe://a.b/A-Z_0.9/x"}));
  EXPECT_EQ(a.size(), 7u);
  EXPECT_FALSE(a.empty());
}

TEST_F(identity_keys, a_whitelist_of_only_spiffe_rules_is_not_empty) {
  const load_result r = load_allow("spiffe_trust_domain = [\"example.org\"]\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].allow->size(), 1u);
  EXPECT_EQ(r.cfg.services[0].positions.at("allow.spiffe_trust_domain").line, 9);
}

TEST_F(identity_keys, every_trust_domain_error_is_reported_at_its_entry) {
  const std::string td = "invalid SPIFFE trust domain ";
  expect_each_refused(
      "spiffe_trust_domain",
      {
          {"", "empty string is not a valid entry"},
          {"Example.org", td + "\"Example.org\": trust domain must be lowercase (found 'E')"},
          {"example.org:8443", td + "\"example.org:8443\": trust domain must not have a port"},
          {"user@example.org", td + "\"user@example.org\": trust domain must not have userinfo ('@')"},
          {"exa mple.org", td + "\"exa mple.org\": trust domain may only contain a-z, 0-9, '.', '-' and '_' (found byte 0x20)"},
          {"example.org/ns", td + "\"example.org/ns\": trust domain may only contain a-z, 0-9, '.', '-' and '_' (found '/')"},
          {"spiffe://example.org",
           td + "\"spiffe://example.org\": write the trust domain name alone (\"example.org\"); whole IDs go in spiffe_id"},
          {std::string(256, 'a'), "trust domain is longer than 255 bytes"},
      });
}

TEST_F(identity_keys, every_spiffe_id_error_is_reported_at_its_entry) {
  const std::string id = "invalid SPIFFE ID ";
  expect_each_refused(
      "spiffe_id",
      {
          {"", "empty string is not a valid entry"},
          {"https://example.org/x", id + "\"https://example.org/x\": must start with \"spiffe://\""},
          {"example.org/x", id + "\"example.org/x\": must start with \"spiffe://\""},
          {"SPIFFE://example.org/x", id + "\"SPIFFE://example.org/x\": scheme must be written \"spiffe://\" in lowercase"},
          {"spiffe:/example.org/x", id + "\"spiffe:/example.org/x\": must start with \"spiffe://\""},
          {"spiffe:///x", id + "\"spiffe:///x\": trust domain is empty"},
          {"spiffe://", id + "\"spiffe://\": trust domain is empty"},
          {"spiffe://Example.org/x", id + "\"spiffe://Example.org/x\": trust domain must be lowercase (found 'E')"},
          {"spiffe://example.org:443/x", id + "\"spiffe://example.org:443/x\": trust domain must not have a port"},
          {"spiffe://u@example.org/x", id + "\"spiffe://u@example.org/x\": trust domain must not have userinfo ('@')"},
          {"spiffe://example.org/x?a=b", id + "\"spiffe://example.org/x?a=b\": must not have a query ('?')"},
          {"spiffe://example.org/x#frag", id + "\"spiffe://example.org/x#frag\": must not have a fragment ('#')"},
          {"spiffe://example.org/", id + "\"spiffe://example.org/\": path must not end with '/'"},
          {"spiffe://example.org/ns/", id + "\"spiffe://example.org/ns/\": path must not end with '/'"},
          {"spiffe://example.org//x", id + "\"spiffe://example.org//x\": path has an empty segment (\"//\")"},
          {"spiffe://example.org/./x", id + "\"spiffe://example.org/./x\": path must not have \".\" segments"},
          {"spiffe://example.org/a/../x", id + "\"spiffe://example.org/a/../x\": path must not have \"..\" segments"},
          {"spiffe://example.org/a%20b",
           id + "\"spiffe://example.org/a%20b\": path may only contain letters, digits, '.', '-' and '_' (found '%')"},
          {"spiffe://example.org/a:b",
           id + "\"spiffe://example.org/a:b\": path may only contain letters, digits, '.', '-' and '_' (found ':')"},
          {"spiffe://example.org/ns/*/x",
           "invalid SPIFFE ID pattern \"spiffe://example.org/ns/*/x\": '*' is only allowed as a trailing \"/*\""},
          {"spiffe://example.org/ns*",
           "invalid SPIFFE ID pattern \"spiffe://example.org/ns*\": '*' is only allowed as a trailing \"/*\""},
          {"spiffe://example.org/ns//*", id + "\"spiffe://example.org/ns//*\": path must not end with '/'"},
          {"spiffe://*", "invalid SPIFFE ID pattern \"spiffe://*\": \"/*\" must follow a trust domain"},
          {"spiffe://example.org/" + std::string(2028, 'a'), "longer than 2048 bytes (2049)"},
      });
}

TEST_F(identity_keys, a_spiffe_id_of_exactly_2048_bytes_is_accepted) {
  const std::string longest = "spiffe://example.org/" + std::string(2048 - 21, 'a');
  ASSERT_EQ(longest.size(), 2048u);
  const load_result r = load_allow("spiffe_id = [\"" + longest + "\"]\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_EQ(r.cfg.services[0].allow->spiffe_id, std::vector<std::string>{longest});
}

TEST_F(identity_keys, spiffe_fields_are_arrays_of_strings_and_misspellings_get_a_hint) {
  const load_result r = load_allow(R"(spiffe_id = "spiffe://example.org/x"
spiffe_trust_domains = ["example.org"]
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 9, 13, "service[p].allow.spiffe_id", "expected an array of strings, got string"));
  EXPECT_TRUE(has_error(r, 10, 1, "service[p].allow.spiffe_trust_domains",
                        "unknown key; did you mean \"spiffe_trust_domain\"?"));
}

constexpr const char* tls_service = R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)";

TEST_F(identity_keys, require_client_auth_eku_defaults_to_true) {
  const load_result r = load(tls_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].require_client_auth_eku);
}

TEST_F(identity_keys, require_client_auth_eku_is_read_from_the_service_or_defaults) {
  load_result r = load(std::string(tls_service) + "require_client_auth_eku = false\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.services[0].require_client_auth_eku);
  EXPECT_EQ(r.cfg.services[0].positions.at("require_client_auth_eku").line, 8);

  r = load(std::string("[defaults]\nrequire_client_auth_eku = false\n") + tls_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.services[0].require_client_auth_eku);

  // The service's own value wins over [defaults].
  r = load(std::string("[defaults]\nrequire_client_auth_eku = false\n") + tls_service +
           "require_client_auth_eku = true\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].require_client_auth_eku);
}

TEST_F(identity_keys, require_client_auth_eku_must_be_a_boolean) {
  const load_result r = load(std::string(tls_service) + "require_client_auth_eku = \"no\"\n");
  EXPECT_TRUE(has_only_error(r, 8, 27, "service[a].require_client_auth_eku", "expected true or false, got string"));
}

TEST_F(identity_keys, require_client_auth_eku_on_a_plain_tcp_service_is_an_error) {
  const load_result r = load(R"(
[[service]]
name = "plain"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
require_client_auth_eku = false
)");
  EXPECT_TRUE(has_only_error(r, 5, 27, "service[plain].require_client_auth_eku",
                             "TLS option on a plain tcp:// listener"));
}

TEST_F(identity_keys, admin_endpoint_reads_require_client_auth_eku) {
  const load_result r = load(std::string(R"(
[admin]
listen = "127.0.0.1:9901"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
require_client_auth_eku = false
)") + tls_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.admin.tls.require_client_auth_eku);
}

}  // namespace
}  // namespace mtlsd::test
