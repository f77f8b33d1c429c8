// [server] expiry_warning: a loaded certificate that expires within the
// window is logged at start-up and after every reload (and daily), with the
// service, its role and how many days are left — the line an operator sees
// before a partner's "can't connect" does.
#include <csignal>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;
constexpr std::chrono::hours day{24};

class expiry : public mtlsd_test {
 protected:
  // A server certificate valid for `server_days` and a client CA for a year,
  // so only the server certificate can fall into a 30-day window.
  config_spec with_server_cert_valid_for(std::chrono::hours server_days, const std::string& backend_url) {
    cert_spec srv;
    srv.cn = {"localhost"};
    srv.dns = {"localhost"};
    srv.ip = {"127.0.0.1"};
    srv.eku = eku_kind::server_auth;
    srv.not_after = server_days;
    const issued server = issue(srv, pki().server_ca);
    write_file(dir_ / "soon.crt", server.cert_pem());
    write_file(dir_ / "soon.key", server.key_pem());
    cert_spec ca;
    ca.is_ca = true;
    ca.cn = {"long-lived client CA"};
    ca.not_after = 365 * day;
    write_file(dir_ / "long-ca.crt", make_self_signed(ca).cert_pem());

    config_spec config;
    service_spec svc = service(backend_url);
    svc.cert = "soon.crt";
    svc.key = "soon.key";
    svc.truststore = "long-ca.crt";
    config.services.push_back(svc);
    return config;
  }

  // Every line the daemon wrote, once it has exited after SIGTERM.
  std::vector<log_line> all_expiring_lines() {
    daemon().proc().send_signal(SIGTERM);
    EXPECT_EQ(daemon().proc().wait_exit_and_output(10s), 0);
    return daemon().events("certificate_expiring");
  }
};

TEST_F(expiry, a_server_certificate_inside_the_default_window_is_logged_at_start_and_after_each_reload) {
  loopback_server backend(echo_handler());
  // Ten and a half days: whole days left is 10 whatever the seconds since issuing.
  auto& d = start(with_server_cert_valid_for(10 * day + 12h, backend.connect_url()));
  const log_line first = d.wait_event("certificate_expiring");
  EXPECT_EQ(first.level, "warn");
  EXPECT_EQ(first.get("svc"), "svc");
  EXPECT_EQ(first.get("role"), "server");
  EXPECT_EQ(first.get("subject"), "CN=localhost");
  EXPECT_EQ(first.get("days_left"), "10");
  EXPECT_TRUE(first.has("not_after"));

  d.proc().send_signal(SIGHUP);
  d.wait_event("reloaded", {{"generation", "2"}});
  d.wait_events("certificate_expiring", {}, 2);

  const auto lines = all_expiring_lines();
  ASSERT_EQ(lines.size(), 2u) << d.output();
  for (const auto& line : lines) EXPECT_EQ(line.get("role"), "server") << "the year-long CA is outside the window";
}

TEST_F(expiry, a_shorter_window_or_zero_logs_nothing) {
  loopback_server backend(echo_handler());
  for (const char* window : {"5d", "0s"}) {
    config_spec config = with_server_cert_valid_for(10 * day, backend.connect_url());
    config.server_lines = {std::string("expiry_warning = \"") + window + "\""};
    start(config);
    daemon().proc().send_signal(SIGHUP);
    daemon().wait_event("reloaded");
    EXPECT_TRUE(all_expiring_lines().empty()) << window << ":\n" << daemon().output();
  }
}

}  // namespace
}  // namespace mtlsd::test
