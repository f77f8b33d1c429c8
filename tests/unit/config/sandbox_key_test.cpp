// [server] sandbox: on unless switched off, a boolean only, and a server
// key (a [defaults] or service block cannot hold it).
#include <gtest/gtest.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

constexpr const char* one_service = R"(
[[service]]
name = "a"
accept = "tcp://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
)";

TEST_F(config_dir_test, sandbox_is_on_by_default) {
  const load_result r = load(one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_TRUE(r.cfg.server.sandbox);
}

TEST_F(config_dir_test, sandbox_false_turns_it_off) {
  const load_result r = load(std::string("[server]\nsandbox = false\n") + one_service);
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  EXPECT_FALSE(r.cfg.server.sandbox);
}

TEST_F(config_dir_test, sandbox_must_be_a_boolean) {
  const load_result r = load(std::string("[server]\nsandbox = \"off\"\n") + one_service);
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "server.sandbox");
  EXPECT_EQ(r.errors[0].where.line, 2);
  EXPECT_NE(r.errors[0].message.find("true or false"), std::string::npos) << r.errors[0].message;
}

TEST_F(config_dir_test, sandbox_in_a_service_block_is_an_error) {
  const load_result r = load(std::string(one_service) + "sandbox = false\n");
  ASSERT_EQ(r.errors.size(), 1u) << describe(r.errors);
  EXPECT_EQ(r.errors[0].key, "service[a].sandbox");
}

}  // namespace
}  // namespace mtlsd::test
