// Owner: config module tests. Paths in the config: resolution against the
// config file's directory and the exists-and-readable checks.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include "config_test_support.hpp"
#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {
namespace {

namespace fs = std::filesystem;

class file_checks : public config_dir_test {
 protected:
  // One tls:// service whose TLS file keys are given verbatim.
  load_result load_with(const std::string& cert, const std::string& key, const std::string& truststore,
                        const fs::path& config_file) const {
    const std::string text = "[[service]]\n"
                             "name = \"s\"\n"
                             "accept = \"tls://127.0.0.1:1\"\n"
                             "connect = \"tcp://127.0.0.1:2\"\n"
                             "cert = \"" + cert + "\"\n"
                             "key = \"" + key + "\"\n"
                             "truststore = \"" + truststore + "\"\n";
    return load_config_text(text, config_file);
  }
  load_result load_with(const std::string& cert, const std::string& key, const std::string& truststore) const {
    return load_with(cert, key, truststore, config_path());
  }
};

TEST_F(file_checks, relative_paths_resolve_against_the_config_directory) {
  const load_result r = load_with("../certs/server.crt", "./../certs//server.key", "../certs/ca-dir/",
                                  dir_.path() / "etc" / "mtlsd.toml");
  ASSERT_TRUE(r.ok()) << describe(r.errors);
  const service_config& s = r.cfg.services[0];
  EXPECT_EQ(s.cert, dir_.path() / "certs/server.crt");
  EXPECT_EQ(s.key, dir_.path() / "certs/server.key");
  EXPECT_EQ(s.truststore.lexically_normal(), (dir_.path() / "certs/ca-dir/").lexically_normal());
  EXPECT_TRUE(s.cert.is_absolute());
}

TEST_F(file_checks, absolute_paths_are_kept) {
  const std::string cert = (dir_.path() / "certs/server.crt").string();
  const load_result r = load_with(cert, "certs/server.key", "certs/client-ca.crt", dir_.path() / "elsewhere/m.toml");
  ASSERT_EQ(r.errors.size(), 2u) << describe(r.errors);  // the relative ones are looked up under elsewhere/
  EXPECT_EQ(r.cfg.services[0].cert, fs::path(cert));
}

TEST_F(file_checks, a_relative_config_path_anchors_at_the_working_directory) {
  const fs::path relative_config = fs::relative(config_path(), fs::current_path());
  ASSERT_TRUE(relative_config.is_relative());
  const load_result r = load_with("certs/server.crt", "certs/missing.key", "certs/client-ca.crt", relative_config);
  const std::string expected = "file not found: certs/missing.key (resolved to " +
                               (dir_.path() / "certs/missing.key").string() + ")";
  EXPECT_TRUE(has_only_error(r, 6, 7, "service[s].key", expected));
  EXPECT_EQ(r.errors[0].where.file, relative_config.string());
  EXPECT_EQ(r.cfg.services[0].cert, dir_.path() / "certs/server.crt");
}

TEST_F(file_checks, missing_files_name_the_written_and_the_resolved_path) {
  const std::string absolute_missing = (dir_.path() / "nowhere/ca.pem").string();
  const load_result r = load_with("certs/missing.crt", "certs/server.key", absolute_missing);
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 5, 8, "service[s].cert",
                        "file not found: certs/missing.crt (resolved to " +
                            (dir_.path() / "certs/missing.crt").string() + ")"));
  // Written absolute: nothing to add.
  EXPECT_TRUE(has_error(r, 7, 14, "service[s].truststore", "file not found: " + absolute_missing));
  for (const config_error& e : r.errors) {
    if (e.key == "service[s].truststore") {
      EXPECT_EQ(e.message, "file not found: " + absolute_missing);
    }
  }
}

TEST_F(file_checks, certificate_and_key_must_be_regular_files) {
  const load_result r = load_with("certs/ca-dir", "certs", "certs/ca-dir");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 5, 8, "service[s].cert",
                        "expected a file, found a directory: certs/ca-dir (resolved to " +
                            (dir_.path() / "certs/ca-dir").string() + ")"));
  EXPECT_TRUE(has_error(r, 6, 7, "service[s].key", "expected a file, found a directory: certs"));
}

TEST_F(file_checks, truststore_may_be_a_file_or_a_directory_but_nothing_else) {
  ASSERT_EQ(::mkfifo((dir_.path() / "certs/fifo").c_str(), 0600), 0);
  const load_result r = load_with("certs/fifo", "certs/server.key", "certs/fifo");
  EXPECT_EQ(r.errors.size(), 2u) << describe(r.errors);
  EXPECT_TRUE(has_error(r, 5, 8, "service[s].cert", "not a regular file: certs/fifo (resolved to "));
  EXPECT_TRUE(has_error(r, 7, 14, "service[s].truststore", "not a regular file or directory: certs/fifo (resolved to "));
}

TEST_F(file_checks, unresolvable_path_reports_the_system_error) {
  fs::create_symlink("loop.crt", dir_.path() / "certs/loop.crt");
  const load_result r = load_with("certs/loop.crt", "certs/server.key", "certs/client-ca.crt");
  EXPECT_TRUE(has_only_error(r, 5, 8, "service[s].cert",
                             "cannot read certs/loop.crt (resolved to " + (dir_.path() / "certs/loop.crt").string() +
                                 "): Too many levels of symbolic links"));
}

TEST_F(file_checks, unreadable_file_reports_the_system_error) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of permissions";
  const fs::path key = dir_.write("certs/secret.key");
  fs::permissions(key, fs::perms::none);
  const load_result r = load_with("certs/server.crt", "certs/secret.key", "certs/client-ca.crt");
  EXPECT_TRUE(has_only_error(r, 6, 7, "service[s].key",
                             "cannot read certs/secret.key (resolved to " + key.string() + "): Permission denied"));
}

TEST_F(file_checks, key_password_file_is_checked) {
  const load_result r = load(R"(
[[service]]
name = "enc"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
key_password_file = "certs/nope.pass"
truststore = "certs/client-ca.crt"
)");
  EXPECT_TRUE(has_only_error(r, 7, 21, "service[enc].key_password_file", "file not found: certs/nope.pass"));
}

TEST_F(file_checks, files_in_defaults_are_checked_once_where_written) {
  const load_result r = load(R"(
[defaults]
cert = "certs/gone.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"

[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"

[[service]]
name = "b"
accept = "tls://127.0.0.1:3"
connect = "tcp://127.0.0.1:4"
)");
  EXPECT_TRUE(has_only_error(r, 2, 8, "defaults.cert", "file not found: certs/gone.crt (resolved to "));
}

TEST_F(file_checks, empty_path_is_an_error) {
  const load_result r = load_with("certs/server.crt", "certs/server.key", "");
  EXPECT_TRUE(has_only_error(r, 7, 14, "service[s].truststore", "empty path"));
}

}  // namespace
}  // namespace mtlsd::test
