// Owner: config module tests. server_names (SNI routing): the names, and which
// services may share one accept address.
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class server_names : public config_dir_test {};

// Each service block is 6 lines after its header; `extra` goes on its last line.
std::string tls_service(const std::string& name, const std::string& accept, const std::string& extra) {
  return "[[service]]\nname = \"" + name + "\"\naccept = \"" + accept +
         "\"\nconnect = \"tcp://127.0.0.1:1\"\ncert = \"certs/server.crt\"\nkey = \"certs/server.key\"\n"
         "truststore = \"certs/client-ca.crt\"\n" + extra + "\n";
}

TEST_F(server_names, three_services_share_an_address_by_name) {
  const load_result r = load("\n" + tls_service("a", "tls://127.0.0.1:9443", "server_names = [\"API.Example.com\"]") +
                             tls_service("b", "tls://127.0.0.1:9443", "server_names = [\"*.partner.example\", \"b.example\"]") +
                             tls_service("fallback", "tls://127.0.0.1:9443", ""));
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  ASSERT_EQ(r.cfg.services.size(), 3u);
  EXPECT_EQ(r.cfg.services[0].server_names, std::vector<std::string>{"api.example.com"});
  EXPECT_EQ(r.cfg.services[1].server_names, (std::vector<std::string>{"*.partner.example", "b.example"}));
  EXPECT_TRUE(r.cfg.services[2].server_names.empty());
}

TEST_F(server_names, invalid_names_are_each_reported) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:9443"
connect = "tcp://127.0.0.1:1"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
server_names = ["a*.example.com", "10.0.0.1", "bad..example", "*.com", "ok.example", "OK.example", 7]
)");
  EXPECT_EQ(r.errors.size(), 6u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 8, 17, "service[a].server_names", "'*' is only allowed as the whole leftmost label"));
  EXPECT_TRUE(has_error(r, 8, 35, "service[a].server_names", "never send an IP address"));
  EXPECT_TRUE(has_error(r, 8, 47, "service[a].server_names", "separated by single dots"));
  EXPECT_TRUE(has_error(r, 8, 63, "service[a].server_names", "needs at least two labels"));
  EXPECT_TRUE(has_error(r, 8, 86, "service[a].server_names", "\"ok.example\" is listed twice"));
  EXPECT_TRUE(has_error(r, 8, 100, "service[a].server_names", "expected a string"));
}

TEST_F(server_names, an_empty_list_and_defaults_are_refused) {
  const load_result r = load(R"(
[defaults]
server_names = ["a.example"]

[[service]]
name = "a"
accept = "tls://127.0.0.1:9443"
connect = "tcp://127.0.0.1:1"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
server_names = []
)");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 2, 1, "defaults.server_names", "cannot be set in [defaults]"));
  EXPECT_TRUE(has_error(r, 11, 16, "service[a].server_names", "empty list"));
}

TEST_F(server_names, not_on_a_plain_listener) {
  const load_result r = load(R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:9000"
connect = "tcp://127.0.0.1:1"
server_names = ["a.example"]
)");
  EXPECT_TRUE(has_only_error(r, 5, 16, "service[a].server_names", "TLS option on a plain tcp:// listener"));
}

TEST_F(server_names, overlapping_names_and_two_defaults_are_refused) {
  const load_result r = load("\n" + tls_service("a", "tls://127.0.0.1:9443", "server_names = [\"*.partner.example\"]") +
                             tls_service("b", "tls://127.0.0.1:9443", "server_names = [\"x.partner.example\"]") +
                             tls_service("c", "tls://127.0.0.1:9443", "server_names = [\"*.PARTNER.example\"]") +
                             tls_service("d", "tls://127.0.0.1:9443", "") +
                             tls_service("e", "tls://127.0.0.1:9443", "") +
                             // Not an overlap: "*.partner.example" matches one label only.
                             tls_service("f", "tls://127.0.0.1:9443", "server_names = [\"a.b.partner.example\", \"partner.example\"]"));
  EXPECT_EQ(r.errors.size(), 3u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 16, 16, "service[b].server_names",
                        "server name \"x.partner.example\" overlaps \"*.partner.example\" of service \"a\" (line 8)"));
  EXPECT_TRUE(has_error(r, 24, 16, "service[c].server_names", "overlaps \"*.partner.example\" of service \"a\""));
  EXPECT_TRUE(has_error(r, 35, 10, "service[e].accept",
                        "a second service without server_names on \"127.0.0.1:9443\" (service \"d\" at line 27"));
}

TEST_F(server_names, sharing_needs_the_same_address_text_and_tls) {
  const load_result r = load("\n" + tls_service("a", "tls://127.0.0.1:9443", "server_names = [\"a.example\"]") +
                             tls_service("b", "tls://0.0.0.0:9443", "server_names = [\"b.example\"]") +
                             tls_service("c", "tls://127.0.0.1:9444", "") + tls_service("d", "tls://127.0.0.1:9444", ""));
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 11, 10, "service[b].accept", "services that share a port must write the same address"));
  EXPECT_TRUE(has_error(r, 27, 10, "service[d].accept", "to share it, give the services server_names"));
}

TEST_F(server_names, listener_settings_must_agree) {
  const load_result r = load("\n" +
                             tls_service("a", "tls://127.0.0.1:9443", "server_names = [\"a.example\"]") +
                             tls_service("b", "tls://127.0.0.1:9443",
                                         "server_names = [\"b.example\"]\nhandshake_timeout = \"3s\"\n"
                                         "session_cache_size = 10"));
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 17, 21, "service[b].handshake_timeout", "must be the same for every service on"));
  EXPECT_TRUE(has_error(r, 18, 22, "service[b].session_cache_size", "before the client's server name is known"));
}

}  // namespace
}  // namespace mtlsd::test
