// Owner: config module tests. The process-hygiene keys: [server] core_dumps
// and allow_insecure_key_permissions (per service, in [defaults], [admin]).
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

class hygiene_keys : public config_dir_test {};

TEST_F(hygiene_keys, core_dumps_are_off_and_key_permissions_enforced_by_default) {
  const load_result r = load(tls_service_head);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.server.core_dumps);
  EXPECT_FALSE(r.cfg.services[0].allow_insecure_key_permissions);
}

TEST_F(hygiene_keys, core_dumps_is_a_server_boolean) {
  load_result r = load(std::string("[server]\ncore_dumps = true\n") + tls_service_head);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.server.core_dumps);
  r = load(std::string("[server]\ncore_dumps = 1\n") + tls_service_head);
  EXPECT_TRUE(has_only_error(r, 2, 14, "server.core_dumps", "expected true or false, got integer"));
  r = load(std::string("[defaults]\ncore_dumps = true\n") + tls_service_head);
  EXPECT_FALSE(r.ok());
}

TEST_F(hygiene_keys, allow_insecure_key_permissions_comes_from_the_service_or_defaults) {
  load_result r = load(std::string(tls_service_head) + "allow_insecure_key_permissions = true\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].allow_insecure_key_permissions);

  r = load(std::string("[defaults]\nallow_insecure_key_permissions = true\n") + tls_service_head);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.services[0].allow_insecure_key_permissions);

  r = load(std::string("[defaults]\nallow_insecure_key_permissions = true\n") + tls_service_head +
           "allow_insecure_key_permissions = false\n");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.services[0].allow_insecure_key_permissions);

  r = load(std::string(tls_service_head) + "allow_insecure_key_permissions = \"yes\"\n");
  EXPECT_TRUE(has_only_error(r, 8, 34, "service[a].allow_insecure_key_permissions",
                             "expected true or false, got string"));
}

}  // namespace
}  // namespace mtlsd::test
