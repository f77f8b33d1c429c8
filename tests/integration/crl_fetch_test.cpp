// CRLs fetched over HTTP (crl_url, crl_from_cdp) by the real daemon from a
// loopback HTTP server in this test: the fetch at start-up, the disk cache
// across a restart while the server is down, a newly published CRL closing
// a live connection, refused CRLs keeping the cached one, and the metrics.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <mutex>

#include "admin_client.hpp"
#include "integration.hpp"

namespace mtlsd::test {
namespace {

namespace fs = std::filesystem;

// Answers every request with the body last published (HTTP/1.1, one request
// per connection, Content-Length and close), and counts the requests.
class crl_http_server {
 public:
  crl_http_server() : server_([this](backend_connection& c) { serve(c); }, 120s) {}

  void publish(std::string body, unsigned status = 200) {
    std::lock_guard lock(mutex_);
    body_ = std::move(body);
    status_ = status;
  }
  std::string url(const std::string& path = "/client-ca.crl") const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + path;
  }

 private:
  void serve(backend_connection& c) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const long n = c.receive(buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    std::string body;
    unsigned status = 0;
    {
      std::lock_guard lock(mutex_);
      body = body_;
      status = status_;
    }
    c.send_all("HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Not Found") +
               "\r\nContent-Type: application/pkix-crl\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body);
    c.send_fin();
  }

  std::mutex mutex_;
  std::string body_;
  unsigned status_ = 404;
  loopback_server server_;  // last: its threads call serve() until it is gone
};

std::string local_address(const tls_client& client) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
  return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Start-up's warnings are all logged before `ready`.
bool warned_of_missing_copy(const mtlsd_daemon& d, const std::string& url) {
  for (const auto& line : d.events("config_warning"))
    if (line.get("message").find("no cached CRL yet for " + url) != std::string::npos) return true;
  return false;
}

class crl_fetch : public mtlsd_test {
 protected:
  issued client_leaf(const std::string& cn) {
    cert_spec spec;
    spec.cn = {cn};
    return issue(spec, pki().client_ca);
  }

  static std::string crl_of(const issued& issuer, std::vector<revoked_cert> revoked = {}, crl_spec spec = {}) {
    spec.revoked = std::move(revoked);
    return make_crl(spec, issuer).der();
  }

  fs::path cache_dir() const { return dir_ / "crl-cache"; }

  config_spec one_service(const loopback_server& backend, std::vector<std::string> lines) {
    config_spec c;
    c.server_lines = {"workers = 1", "crl_cache_dir = " + toml_string(cache_dir().string()),
                      R"(crl_refresh_interval = "2s")"};
    c.services.push_back(service(backend.connect_url(), "require", std::move(lines)));
    return c;
  }

  mtlsd_daemon& start_with_admin(const config_spec& spec) {
    pki();
    const auto path = dir_ / "mtlsd.toml";
    write_file(path, render_config(spec) + "[admin]\nlisten = \"127.0.0.1:0\"\n");
    daemon_ = std::make_unique<mtlsd_daemon>(mtlsd_binary, path);
    admin_address_ = daemon_->wait_event("admin_listening", {}, 1s).get("addr");
    return *daemon_;
  }

  metrics_text scrape() {
    const auto reply = http_request(admin_address_, "/metrics");
    if (reply.status != 200) throw harness_error("GET /metrics: " + reply.describe());
    return metrics_text::parse(reply.body);
  }

  void stop_daemon() {
    daemon().proc().send_signal(SIGTERM);
    ASSERT_EQ(daemon().proc().wait_exit(10s), 0);
  }

  std::unique_ptr<tls_client> live_client(const client_identity& identity) {
    auto client = std::make_unique<tls_client>(client_options(identity));
    const auto hs = client->connect(loopback, port());
    EXPECT_TRUE(hs.ok) << hs.error;
    const auto p = client->probe("hello\n");
    EXPECT_TRUE(p.admitted) << p.error << " " << p.alert_received;
    return client;
  }

  std::string admin_address_;
};

TEST_F(crl_fetch, a_crl_fetched_at_start_up_refuses_its_revoked_client_and_admits_a_good_one) {
  loopback_server backend(echo_handler());
  crl_http_server ca;
  const issued revoked = client_leaf("revoked-client");
  const issued fine = client_leaf("fine-client");
  ca.publish(crl_of(pki().client_ca, {{&revoked, -std::chrono::hours(2), 1}}));
  auto& d = start_with_admin(one_service(backend, {"crl_url = " + toml_string(ca.url())}));

  // No copy in the cache yet: start-up says so, and the first fetch runs at once.
  EXPECT_TRUE(warned_of_missing_copy(d, ca.url())) << d.output();
  const auto fetched = d.wait_event("crl_fetched", {{"url", ca.url()}});
  EXPECT_EQ(fetched.get("changed"), "true");
  EXPECT_EQ(fetched.get("issuer"), "CN=mtlsd test client CA");
  EXPECT_EQ(fetched.get("next_update").size(), 20u) << fetched.get("next_update");
  d.wait_event("reloaded", {{"generation", "2"}, {"trigger", "crl_fetch"}});

  EXPECT_TRUE(connect_and_probe(client_identity::of(fine)).admitted);
  EXPECT_FALSE(connect_and_probe(client_identity::of(revoked)).admitted);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "revoked");

  // The cached copy is the fetched CRL, under the SHA-256 of its URL.
  std::vector<fs::path> cached;
  for (const auto& entry : fs::directory_iterator(cache_dir())) cached.push_back(entry.path());
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached[0].extension(), ".crl");
  EXPECT_EQ(cached[0].stem().string().size(), 64u);
  EXPECT_EQ(fs::status(cache_dir()).permissions() & fs::perms::all, fs::perms::owner_all);

  const auto metrics = scrape();
  const auto success = metrics.integer("mtlsd_crl_fetch_last_success_seconds", {{"url", ca.url()}});
  ASSERT_TRUE(success) << metrics.text();
  EXPECT_GT(*success, 1700000000);
  EXPECT_EQ(metrics.integer("mtlsd_crl_fetch_failures_total", {{"url", ca.url()}}), 0);
  EXPECT_TRUE(metrics.value("mtlsd_crl_next_update_seconds", {{"service", "svc"}, {"issuer", "CN=mtlsd test client CA"}}))
      << metrics.text();
}

TEST_F(crl_fetch, after_a_restart_the_cached_crl_serves_while_the_ca_is_unreachable) {
  loopback_server backend(echo_handler());
  const issued revoked = client_leaf("revoked-client");
  const issued fine = client_leaf("fine-client");
  auto ca = std::make_unique<crl_http_server>();
  const std::string url = ca->url();
  ca->publish(crl_of(pki().client_ca, {{&revoked, -std::chrono::hours(2), 1}}));
  const config_spec config = one_service(backend, {"crl_url = " + toml_string(url)});
  start_with_admin(config);
  daemon().wait_event("reloaded", {{"trigger", "crl_fetch"}});
  stop_daemon();
  ca.reset();  // the CA's server is gone: connections to its port are refused

  auto& d = start_with_admin(config);
  // Loaded at start-up, so no warning about a missing copy.
  EXPECT_FALSE(warned_of_missing_copy(d, url)) << d.output();
  const auto failed = d.wait_event("crl_fetch_failed", {{"url", url}});
  EXPECT_EQ(failed.level, "warn");
  EXPECT_FALSE(failed.get("error").empty());
  EXPECT_FALSE(failed.get("retry_in").empty());

  EXPECT_TRUE(connect_and_probe(client_identity::of(fine)).admitted);
  EXPECT_FALSE(connect_and_probe(client_identity::of(revoked)).admitted);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "revoked");

  // The retry comes within crl_refresh_interval (2s) and is counted too.
  d.wait_events("crl_fetch_failed", {{"url", url}}, 2, 10s);
  const auto metrics = scrape();
  EXPECT_GE(metrics.integer("mtlsd_crl_fetch_failures_total", {{"url", url}}).value_or(0), 2) << metrics.text();
  EXPECT_EQ(metrics.integer("mtlsd_crl_fetch_last_success_seconds", {{"url", url}}), 0) << metrics.text();
}

TEST_F(crl_fetch, a_newly_published_crl_closes_the_live_connection_of_its_revoked_client) {
  loopback_server backend(echo_handler(), 120s);
  crl_http_server ca;
  const issued doomed = client_leaf("doomed-client");
  const issued kept = client_leaf("kept-client");
  crl_spec first;
  first.crl_number = 1;
  ca.publish(crl_of(pki().client_ca, {}, first));
  auto& d = start_with_admin(one_service(backend, {"crl_url = " + toml_string(ca.url())}));
  d.wait_event("reloaded", {{"generation", "2"}, {"trigger", "crl_fetch"}});
  auto doomed_client = live_client(client_identity::of(doomed));
  auto kept_client = live_client(client_identity::of(kept));
  const std::string doomed_peer = local_address(*doomed_client);
  const std::string kept_peer = local_address(*kept_client);

  crl_spec second;
  second.crl_number = 2;
  ca.publish(crl_of(pki().client_ca, {{&doomed, -std::chrono::minutes(1), 1}}, second));
  d.wait_events("crl_fetched", {{"url", ca.url()}, {"changed", "true"}}, 2);
  d.wait_event("reloaded", {{"generation", "3"}, {"trigger", "crl_fetch"}});
  const auto access = d.wait_event("access", {{"peer", doomed_peer}});
  EXPECT_EQ(access.get("close"), "reevaluated");
  EXPECT_EQ(access.get("reason"), "revoked");
  EXPECT_TRUE(d.events("live_connection_rejected", {{"peer", kept_peer}}).empty());
  const std::string more(128 * 1024, 'k');
  const auto echoed = kept_client->probe(more);
  EXPECT_TRUE(echoed.admitted) << echoed.error;
  // Unchanged content on the next refreshes: no further reload.
  d.wait_event("crl_fetched", {{"url", ca.url()}, {"changed", "false"}});
  EXPECT_TRUE(d.events("reloaded", {{"generation", "4"}}).empty());
}

TEST_F(crl_fetch, a_crl_that_fails_the_checks_is_refused_and_the_cached_one_kept) {
  loopback_server backend(echo_handler());
  crl_http_server ca;
  const issued revoked = client_leaf("revoked-client");
  const issued fine = client_leaf("fine-client");
  crl_spec good;
  good.crl_number = 5;
  ca.publish(crl_of(pki().client_ca, {{&revoked, -std::chrono::hours(2), 1}}, good));
  auto& d = start_with_admin(one_service(backend, {"crl_url = " + toml_string(ca.url())}));
  d.wait_event("reloaded", {{"generation", "2"}, {"trigger", "crl_fetch"}});
  std::vector<fs::path> cached;
  for (const auto& entry : fs::directory_iterator(cache_dir())) cached.push_back(entry.path());
  ASSERT_EQ(cached.size(), 1u);
  const std::string kept_bytes = read_bytes(cached[0]);

  // Signed by another key under the CA's name: the signature check refuses it.
  crl_spec forged;
  forged.forged_by = &pki().server_ca;
  forged.crl_number = 6;
  ca.publish(crl_of(pki().client_ca, {}, forged));
  auto failed = d.wait_event("crl_fetch_failed", {{"url", ca.url()}});
  EXPECT_NE(failed.get("error").find("signature does not verify"), std::string::npos) << failed.get("error");
  EXPECT_NE(failed.get("error").find(ca.url()), std::string::npos) << failed.get("error");

  ca.publish("<html>not a CRL</html>");
  failed = d.wait_events("crl_fetch_failed", {{"url", ca.url()}}, 2).back();
  EXPECT_NE(failed.get("error").find("neither PEM nor a DER CRL"), std::string::npos) << failed.get("error");

  // A genuine but older CRL (lower number) never replaces a newer one.
  crl_spec older;
  older.crl_number = 4;
  ca.publish(crl_of(pki().client_ca, {}, older));
  failed = d.wait_events("crl_fetch_failed", {{"url", ca.url()}}, 3).back();
  EXPECT_NE(failed.get("error").find("older than the cached CRL"), std::string::npos) << failed.get("error");

  ca.publish("", 404);
  failed = d.wait_events("crl_fetch_failed", {{"url", ca.url()}}, 4).back();
  EXPECT_NE(failed.get("error").find("404"), std::string::npos) << failed.get("error");

  EXPECT_EQ(read_bytes(cached[0]), kept_bytes);
  EXPECT_TRUE(d.events("reloaded", {{"generation", "3"}}).empty());
  EXPECT_FALSE(connect_and_probe(client_identity::of(revoked)).admitted);
  EXPECT_TRUE(connect_and_probe(client_identity::of(fine)).admitted);
  const auto metrics = scrape();
  EXPECT_GE(metrics.integer("mtlsd_crl_fetch_failures_total", {{"url", ca.url()}}).value_or(0), 4) << metrics.text();
}

TEST_F(crl_fetch, crl_from_cdp_fetches_the_distribution_points_of_the_truststore_certificates) {
  loopback_server backend(echo_handler());
  crl_http_server ca;
  const issued revoked = client_leaf("revoked-client");
  const issued fine = client_leaf("fine-client");
  ca.publish(crl_of(pki().client_ca, {{&revoked, -std::chrono::hours(2), 1}}));
  // An intermediate whose distribution point names the CRL of its issuer
  // (the client CA), in the truststore next to that CA.
  cert_spec spec;
  spec.is_ca = true;
  spec.cn = {"mtlsd test intermediate with CDP"};
  spec.crl_distribution_points = {ca.url()};
  const issued intermediate = issue(spec, pki().client_ca);
  write_file(dir_ / "bundle.crt", pki().client_ca.cert_pem() + intermediate.cert_pem());
  config_spec config = one_service(backend, {"crl_from_cdp = true"});
  config.services[0].truststore = "bundle.crt";
  auto& d = start_with_admin(config);

  EXPECT_EQ(d.wait_event("crl_fetched").get("url"), ca.url());
  d.wait_event("reloaded", {{"trigger", "crl_fetch"}});
  EXPECT_TRUE(connect_and_probe(client_identity::of(fine)).admitted);
  EXPECT_FALSE(connect_and_probe(client_identity::of(revoked)).admitted);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "revoked");
}

TEST_F(crl_fetch, an_unusable_cache_directory_stops_start_up_naming_the_key) {
  loopback_server backend(echo_handler());
  write_file(dir_ / "a-file", "x");
  config_spec config = one_service(backend, {R"(crl_url = "http://127.0.0.1:9/ca.crl")"});
  config.server_lines[1] = "crl_cache_dir = " + toml_string((dir_ / "a-file" / "cache").string());
  const auto path = write_config(config);
  process p({mtlsd_binary, "run", "--config", path.string()});
  EXPECT_EQ(p.wait_exit_and_output(10s), 1);
  EXPECT_NE(p.all_output().find("server.crl_cache_dir"), std::string::npos) << p.all_output();
}

}  // namespace
}  // namespace mtlsd::test
