#pragma once
// Shared by the integration tests: paths of the binaries under test and a
// fixture that owns a scratch directory, a PKI, backends and one mtlsd.
// Owned by the test-harness helper.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "backends.hpp"
#include "mtlsd_fixture.hpp"
#include "pki.hpp"
#include "process.hpp"
#include "tls_client.hpp"

namespace mtlsd::test {

inline const std::string mtlsd_binary = MTLSD_BINARY;
inline const std::string echo_binary = MTLSD_ECHO_BINARY;
inline const std::string source_dir = MTLSD_SOURCE_DIR;
inline const std::string loopback = "127.0.0.1";

// For programs found in $PATH (openssl, curl).
inline process_options in_path() {
  process_options o;
  o.search_path = true;
  return o;
}

class mtlsd_test : public ::testing::Test {
 protected:
  void TearDown() override {
    // See with_sandbox_report() in mtlsd_fixture.cpp.
    if (daemon_) {
      EXPECT_EQ(daemon_->output().find("sandbox_blocked"), std::string::npos)
          << "the sandbox refused a system call mtlsd made; add it to src/platform/seccomp_filter.cpp if it is needed";
    }
    // The daemon's own account is the most useful thing when a test fails.
    if (daemon_ && (HasFailure() || std::getenv("MTLSD_TEST_SHOW_LOG"))) {
      std::cerr << "---- mtlsd output ----\n" << daemon_->output() << "---- end ----\n";
    }
  }

  test_pki& pki() {
    if (!pki_) pki_ = std::make_unique<test_pki>(dir_.path());
    return *pki_;
  }

  std::filesystem::path write_config(const config_spec& spec, const std::string& name = "mtlsd.toml") {
    pki();
    const auto path = dir_ / name;
    write_file(path, render_config(spec));
    return path;
  }

  mtlsd_daemon& start(const config_spec& spec) {
    daemon_ = std::make_unique<mtlsd_daemon>(mtlsd_binary, write_config(spec));
    return *daemon_;
  }

  // A one-service config in front of `backend`.
  static service_spec service(const std::string& connect, const std::string& verify = "require",
                              std::vector<std::string> lines = {}) {
    service_spec s;
    s.connect = connect;
    s.verify_client = verify;
    s.lines = std::move(lines);
    return s;
  }

  mtlsd_daemon& daemon() { return *daemon_; }
  std::uint16_t port(const std::string& svc = "svc") { return daemon_->port(svc); }

  // A client that verifies mtlsd's certificate, presenting `identity` if given.
  tls_client_options client_options(std::optional<client_identity> identity = std::nullopt) {
    tls_client_options o;
    o.ca_file = pki().server_ca_file();
    o.verify_host = loopback;
    o.identity = std::move(identity);
    return o;
  }

  // Connects and round-trips through an echo backend.
  probe_result connect_and_probe(std::optional<client_identity> identity, const std::string& svc = "svc",
                                 int max_version = 0) {
    auto options = client_options(std::move(identity));
    options.max_version = max_version;
    tls_client client(options);
    auto hs = client.connect(loopback, port(svc));
    if (!hs.ok) return probe_result{false, hs.alert_received, hs.error, {}};
    return client.probe();
  }

  temp_dir dir_;
  std::unique_ptr<test_pki> pki_;
  std::unique_ptr<mtlsd_daemon> daemon_;
};

}  // namespace mtlsd::test
