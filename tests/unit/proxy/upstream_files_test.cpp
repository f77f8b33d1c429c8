// Owner: proxy module tests. The files [service.upstream] names are watched
// for reload like the accept side's — but only where they apply (a tls://
// connect), whatever the accept scheme.
#include <gtest/gtest.h>

#include <algorithm>

#include "mtlsd/proxy/runtime.hpp"

namespace mtlsd::test {
namespace {

bool lists(const std::vector<std::filesystem::path>& files, const std::filesystem::path& path) {
  return std::find(files.begin(), files.end(), path) != files.end();
}

config client_mode(transport backend_scheme) {
  config cfg;
  cfg.file = "/etc/mtlsd/mtlsd.toml";
  service_config svc;
  svc.name = "to-partner";
  svc.accept = {transport::tcp, "127.0.0.1", 9000};
  svc.connect = {{backend_scheme, "partner.example", 443}};
  svc.upstream.cert = "/etc/mtlsd/ours.crt";
  svc.upstream.key = "/etc/mtlsd/ours.key";
  svc.upstream.truststore = "/etc/mtlsd/partner-ca.crt";
  svc.upstream.keystore_password_file = "/etc/mtlsd/unused.pass";
  cfg.services.push_back(svc);
  return cfg;
}

TEST(upstream_files, a_tls_backend_behind_a_plain_listener_has_its_files_watched) {
  const auto files = proxy::named_files(client_mode(transport::tls));
  EXPECT_TRUE(lists(files, "/etc/mtlsd/ours.crt"));
  EXPECT_TRUE(lists(files, "/etc/mtlsd/ours.key"));
  EXPECT_TRUE(lists(files, "/etc/mtlsd/partner-ca.crt"));
  EXPECT_TRUE(lists(files, "/etc/mtlsd/unused.pass"));
  EXPECT_EQ(std::count(files.begin(), files.end(), std::filesystem::path("/etc/mtlsd/ours.crt")), 1);
}

TEST(upstream_files, a_plain_backend_has_no_upstream_files) {
  const auto files = proxy::named_files(client_mode(transport::tcp));
  EXPECT_FALSE(lists(files, "/etc/mtlsd/ours.crt"));
  EXPECT_FALSE(lists(files, "/etc/mtlsd/partner-ca.crt"));
}

}  // namespace
}  // namespace mtlsd::test
