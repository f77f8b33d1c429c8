// Secret files others can read refuse the service (or, when allowed, warn):
// the check server_context and client_context run before reading them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mtlsd/tls/client_context.hpp"
#include "mtlsd/tls/server_context.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

std::string all(const config_errors& errors) {
  std::string text;
  for (const auto& e : errors) text += "\n  " + e.to_string();
  return text;
}

class key_permissions : public ::testing::Test {
 protected:
  void set_mode(const std::filesystem::path& file, mode_t mode) {
    ASSERT_EQ(::chmod(file.c_str(), mode), 0) << file;
  }

  std::shared_ptr<const tls::server_context> build() {
    return tls::server_context::build(service, errors, warnings);
  }

  server_pki pki;
  service_config service = make_service(pki);
  config_errors errors;
  std::vector<std::string> warnings;
};

TEST_F(key_permissions, a_key_only_its_owner_can_read_loads_without_a_word) {
  set_mode(pki.key, 0600);
  EXPECT_TRUE(build()) << all(errors);
  EXPECT_TRUE(warnings.empty());
  set_mode(pki.key, 0400);
  EXPECT_TRUE(build()) << all(errors);
}

TEST_F(key_permissions, a_key_others_can_read_refuses_the_service_at_the_key) {
  set_mode(pki.key, 0644);
  EXPECT_FALSE(build());
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_EQ(errors[0].key, "service[svc].key");
  EXPECT_EQ(errors[0].message, "key " + pki.key.string() +
                                   ": mode 0644 lets others read it; a private key or password must be readable "
                                   "only by its owner: chmod 600 " +
                                   pki.key.string() + " (or set allow_insecure_key_permissions = true)");
}

TEST_F(key_permissions, others_writing_is_refused_too) {
  set_mode(pki.key, 0602);
  EXPECT_FALSE(build());
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_NE(errors[0].message.find("mode 0602 lets others use it"), std::string::npos) << errors[0].message;
}

TEST_F(key_permissions, a_root_owned_key_may_be_read_by_its_group_but_not_changed) {
  if (::geteuid() != 0) GTEST_SKIP() << "the files are root's only when the suite runs as root";
  set_mode(pki.key, 0640);
  EXPECT_TRUE(build()) << all(errors);
  set_mode(pki.key, 0660);
  EXPECT_FALSE(build());
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_NE(errors[0].message.find("mode 0660 lets its group change it"), std::string::npos) << errors[0].message;
}

TEST_F(key_permissions, a_key_owned_by_another_user_may_not_be_group_readable) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file to another user needs root";
  ASSERT_EQ(::chown(pki.key.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  set_mode(pki.key, 0640);
  EXPECT_FALSE(build());
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_NE(errors[0].message.find("mode 0640 lets its group read it (group read is accepted only for files owned "
                                   "by root)"),
            std::string::npos)
      << errors[0].message;
}

TEST_F(key_permissions, the_mode_of_a_symlinks_target_is_what_counts) {
  // Kubernetes mounts secrets as symbolic links (mode 0777) to the files.
  const auto link = pki.dir.path() / "linked.key";
  std::filesystem::create_symlink(pki.key, link);
  service.key = link;
  set_mode(pki.key, 0600);
  EXPECT_TRUE(build()) << all(errors);
  set_mode(pki.key, 0644);
  EXPECT_FALSE(build());
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].key, "service[svc].key");
}

TEST_F(key_permissions, password_and_ticket_key_files_are_secrets_too) {
  const auto password = pki.dir.path() / "key.pass";
  const auto tickets = pki.dir.path() / "tickets.key";
  write_file(password, "not used\n");
  write_file(tickets, random_ticket_key_hex() + "\n");
  service.key_password_file = password;
  service.session_ticket_key_file = tickets;
  set_mode(password, 0644);
  set_mode(tickets, 0604);
  EXPECT_FALSE(build());
  ASSERT_EQ(errors.size(), 2u) << all(errors);
  EXPECT_EQ(errors[0].key, "service[svc].key_password_file");
  EXPECT_EQ(errors[1].key, "service[svc].session_ticket_key_file");
}

TEST_F(key_permissions, allow_insecure_key_permissions_turns_the_refusal_into_a_warning) {
  set_mode(pki.key, 0644);
  service.allow_insecure_key_permissions = true;
  EXPECT_TRUE(build()) << all(errors);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "service svc: key " + pki.key.string() +
                             ": mode 0644 lets others read it (allowed by allow_insecure_key_permissions)");
}

TEST_F(key_permissions, the_upstream_client_key_is_checked_at_its_own_key) {
  const issued client = issue(leaf_spec("upstream-client"), pki.client_ca);
  service.upstream.cert = pki.dir.path() / "upstream.crt";
  service.upstream.key = pki.dir.path() / "upstream.key";
  write_file(service.upstream.cert, client.cert_pem());
  write_file(service.upstream.key, client.key_pem());
  service.connect = {{transport::tls, "127.0.0.1", 9}};
  EXPECT_TRUE(tls::client_context::build(service, errors, warnings, nullptr)) << all(errors);

  set_mode(service.upstream.key, 0644);
  EXPECT_FALSE(tls::client_context::build(service, errors, warnings, nullptr));
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_EQ(errors[0].key, "service[svc].upstream.key");
  EXPECT_NE(errors[0].message.find("mode 0644 lets others read it"), std::string::npos) << errors[0].message;
}

}  // namespace
}  // namespace mtlsd::test
