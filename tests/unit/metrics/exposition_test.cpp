#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "metrics_test_support.hpp"
#include "mtlsd/metrics/exposition.hpp"

namespace mtlsd::metrics {
namespace {

using namespace std::chrono_literals;
using test::value_of;

std::string render_populated() {
  registry r;
  test::populate(r);
  return render(r, test::sample_certificates(), test::sample_build);
}

// Lines of `text` starting with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

TEST(exposition, backend_metrics_are_per_service_and_backend_and_leave_with_their_backend) {
  registry r;
  auto a = r.backend("api", "10.0.0.5:8080");
  auto b = r.backend("api", "db(10.0.0.6:8080)");
  EXPECT_EQ(r.backend("api", "10.0.0.5:8080"), a);
  a->active.add(3);
  a->connections.add(7);
  b->connect_failures.add(2);
  b->up.set(0);
  std::string text = render(r, {}, test::sample_build);
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_connections_active{service="api",backend="10.0.0.5:8080"})"), "3");
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_connections_total{service="api",backend="10.0.0.5:8080"})"), "7");
  EXPECT_EQ(value_of(text, R"x(mtlsd_backend_connect_failures_total{service="api",backend="db(10.0.0.6:8080)"})x"),
            "2");
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_up{service="api",backend="10.0.0.5:8080"})"), "1");
  EXPECT_EQ(value_of(text, R"x(mtlsd_backend_up{service="api",backend="db(10.0.0.6:8080)"})x"), "0");
  b.reset();  // DNS dropped the address: its series go
  text = render(r, {}, test::sample_build);
  EXPECT_EQ(text.find("db(10.0.0.6:8080)"), std::string::npos);
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_up{service="api",backend="10.0.0.5:8080"})"), "1");
}

TEST(exposition, handshake_failures_are_counted_per_reason_with_every_reason_present) {
  registry r;
  auto m = r.service("api");
  m->handshakes_ok.add(5);
  m->handshake_failures[static_cast<std::size_t>(rejection_reason::not_whitelisted)].add(3);
  m->handshake_failures[static_cast<std::size_t>(rejection_reason::expired)].add(1);
  const std::string text = render(r, {}, test::sample_build);

  EXPECT_EQ(value_of(text, R"(mtlsd_handshakes_total{service="api",result="success"})"), "5");
  EXPECT_EQ(value_of(text, R"(mtlsd_handshakes_total{service="api",result="failure",reason="not_whitelisted"})"),
            "3");
  EXPECT_EQ(value_of(text, R"(mtlsd_handshakes_total{service="api",result="failure",reason="expired"})"), "1");
  for (std::size_t i = 0; i < rejection_reason_count; ++i) {
    const auto reason = static_cast<rejection_reason>(i);
    if (reason == rejection_reason::not_whitelisted || reason == rejection_reason::expired) continue;
    const std::string series = R"(mtlsd_handshakes_total{service="api",result="failure",reason=")" +
                               std::string(to_string(reason)) + "\"}";
    EXPECT_EQ(value_of(text, series), "0") << series;
  }
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_rejected_total{service="api",reason="handshake"})"), "4");
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_rejected_total{service="api",reason="limit"})"), "0");
}

TEST(exposition, every_counter_and_gauge_shows_its_value) {
  const std::string text = render_populated();
  // populate(): alpha gets the base values, beta twice them.
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_accepted_total{service="alpha"})"), "100");
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_accepted_total{service="beta"})"), "200");
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_active{service="beta"})"), "14");
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_rejected_total{service="beta",reason="limit"})"), "6");
  EXPECT_EQ(value_of(text, R"(mtlsd_connections_rejected_total{service="beta",reason="handshake"})"), "10");
  EXPECT_EQ(value_of(text, R"(mtlsd_silent_closes_total{service="alpha"})"), "2");
  EXPECT_EQ(value_of(text, R"(mtlsd_bytes_total{service="alpha",direction="client_to_backend"})"), "12345");
  EXPECT_EQ(value_of(text, R"(mtlsd_bytes_total{service="alpha",direction="backend_to_client"})"), "67890");
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_connects_total{service="beta",result="success"})"), "156");
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_connects_total{service="beta",result="failure"})"), "4");
  EXPECT_EQ(value_of(text, R"(mtlsd_reloads_total{result="success"})"), "2");
  EXPECT_EQ(value_of(text, R"(mtlsd_reloads_total{result="failure"})"), "1");
  EXPECT_EQ(value_of(text, "mtlsd_config_generation"), "3");
  EXPECT_EQ(value_of(text, "mtlsd_ready"), "1");
  EXPECT_EQ(value_of(text, "mtlsd_draining"), "0");
  EXPECT_EQ(value_of(text, R"(mtlsd_build_info{version="1.2.3",openssl="OpenSSL 3.0.11 19 Sep 2023"})"), "1");
}

TEST(exposition, timestamps_are_seconds_with_millisecond_precision) {
  const std::string text = render_populated();
  EXPECT_EQ(value_of(text, "mtlsd_start_time_seconds"), "1712000000.123");
  EXPECT_EQ(value_of(text, "mtlsd_reload_last_success_timestamp_seconds"), "1712000360.5");

  registry r;
  r.process().start_time_ms.set(1712000000000);
  r.process().last_reload_success_ms.set(1712000000007);
  const std::string whole = render(r, {}, test::sample_build);
  EXPECT_EQ(value_of(whole, "mtlsd_start_time_seconds"), "1712000000");
  EXPECT_EQ(value_of(whole, "mtlsd_reload_last_success_timestamp_seconds"), "1712000000.007");
}

TEST(exposition, histogram_has_every_bucket_in_plain_decimal_then_sum_and_count) {
  registry r;
  auto m = r.service("api");
  m->handshake_duration.observe(500us);
  m->handshake_duration.observe(2s);
  m->handshake_duration.observe(20s);
  const std::string text = render(r, {}, test::sample_build);

  const auto buckets = lines_starting(text, "mtlsd_handshake_duration_seconds_bucket{");
  ASSERT_EQ(buckets.size(), histogram::bounds.size() + 1);
  const char* expected_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                               "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};
  const char* expected_count[] = {"1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "2", "2", "2", "3"};
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    EXPECT_EQ(buckets[i], std::string(R"(mtlsd_handshake_duration_seconds_bucket{service="api",le=")") +
                              expected_le[i] + "\"} " + expected_count[i]);
  }
  EXPECT_EQ(value_of(text, R"(mtlsd_handshake_duration_seconds_sum{service="api"})"), "22.0005");
  EXPECT_EQ(value_of(text, R"(mtlsd_handshake_duration_seconds_count{service="api"})"), "3");
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_connect_duration_seconds_bucket{service="api",le="+Inf"})"), "0");
  EXPECT_EQ(value_of(text, R"(mtlsd_backend_connect_duration_seconds_sum{service="api"})"), "0");
}

TEST(exposition, each_family_has_help_and_type_once_before_its_samples) {
  const std::string text = render_populated();
  std::map<std::string, int> help_count;
  std::map<std::string, int> type_count;
  std::map<std::string, std::string> type_of;
  std::set<std::string> series_seen;
  std::string current;  // family whose TYPE line came last
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (line.rfind("# HELP ", 0) == 0) {
      words >> hash >> keyword >> name;
      ++help_count[name];
    } else if (line.rfind("# TYPE ", 0) == 0) {
      words >> hash >> keyword >> name >> type;
      ++type_count[name];
      type_of[name] = type;
      current = name;
      EXPECT_EQ(help_count[name], 1) << "HELP must precede TYPE for " << name;
    } else {
      const std::string series = line.substr(0, line.rfind(' '));
      EXPECT_TRUE(series_seen.insert(series).second) << "duplicate series " << series;
      const std::string sample_name = series.substr(0, series.find('{'));
      std::string family = sample_name;
      if (type_of[current] == "histogram") {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
          const std::string s = suffix;
          if (sample_name.size() > s.size() && sample_name.ends_with(s)) {
            family = sample_name.substr(0, sample_name.size() - s.size());
            break;
          }
        }
      }
      EXPECT_EQ(family, current) << "sample outside its family block: " << line;
      if (type_of[current] == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << family;
      }
    }
  }
  const std::set<std::string> expected = {
      "mtlsd_build_info",
      "mtlsd_start_time_seconds",
      "mtlsd_ready",
      "mtlsd_draining",
      "mtlsd_config_generation",
      "mtlsd_reloads_total",
      "mtlsd_reload_last_success_timestamp_seconds",
      "mtlsd_connections_accepted_total",
      "mtlsd_connections_active",
      "mtlsd_connections_rejected_total",
      "mtlsd_handshakes_total",
      "mtlsd_silent_closes_total",
      "mtlsd_handshake_duration_seconds",
      "mtlsd_bytes_total",
      "mtlsd_backend_connects_total",
      "mtlsd_backend_connect_duration_seconds",
      "mtlsd_certificate_not_after_seconds",
      "mtlsd_live_connections_rejected_total",
      "mtlsd_crl_next_update_seconds",
      "mtlsd_crl_fetch_last_success_seconds",
      "mtlsd_crl_fetch_failures_total",
      "mtlsd_proxy_header_rejections_total",
      "mtlsd_proxy_headers_sent_total",
      "mtlsd_backend_connections_active",
      "mtlsd_backend_connections_total",
      "mtlsd_backend_connect_failures_total",
      "mtlsd_backend_up",
      "mtlsd_upstream_handshakes_total",
      "mtlsd_upstream_sessions_resumed_total",
      "mtlsd_accept_paused",
  };
  std::set<std::string> families;
  for (const auto& [name, n] : type_count) {
    families.insert(name);
    EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(help_count[name], 1) << name;
  }
  EXPECT_EQ(families, expected);
  EXPECT_EQ(type_of["mtlsd_connections_active"], "gauge");
  EXPECT_EQ(type_of["mtlsd_handshakes_total"], "counter");
  EXPECT_EQ(type_of["mtlsd_backend_connect_duration_seconds"], "histogram");
  EXPECT_EQ(type_of["mtlsd_certificate_not_after_seconds"], "gauge");
}

TEST(exposition, services_appear_sorted_by_name_within_each_family) {
  const std::string text = render_populated();  // "beta" is registered first
  const auto accepted = lines_starting(text, "mtlsd_connections_accepted_total{");
  ASSERT_EQ(accepted.size(), 2u);
  EXPECT_NE(accepted[0].find(R"(service="alpha")"), std::string::npos);
  EXPECT_NE(accepted[1].find(R"(service="beta")"), std::string::npos);
}

TEST(exposition, hostile_certificate_subject_is_escaped_inside_its_label) {
  registry r;
  const std::string text = render(r, {{"api", "truststore", test::hostile_subject, 1900000000}}, test::sample_build);
  // Quote, backslash and newline escaped; the two bytes that are not UTF-8
  // (a stray 0xFF and an overlong 0xC0 0xAF) each replaced by U+FFFD.
  const std::string expected =
      "mtlsd_certificate_not_after_seconds{service=\"api\",role=\"truststore\","
      "subject=\"CN=evil\\\"} 1\\nmtlsd_ready 0\\\\,O=x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 1900000000";
  EXPECT_EQ(lines_starting(text, "mtlsd_certificate_not_after_seconds{"), std::vector<std::string>{expected});
  // The injected "mtlsd_ready 0" stayed inside the label: mtlsd_ready appears once.
  EXPECT_EQ(lines_starting(text, "mtlsd_ready ").size(), 1u);
}

TEST(exposition, valid_utf8_in_labels_passes_through_unchanged) {
  registry r;
  const std::string text = render(r, {{"api", "server", "CN=Zürich AG,O=日本", 1750000000}}, test::sample_build);
  const std::string series =
      R"(mtlsd_certificate_not_after_seconds{service="api",role="server",subject="CN=Zürich AG,O=日本"})";
  EXPECT_EQ(value_of(text, series), "1750000000");
}

TEST(exposition, build_info_labels_are_escaped) {
  registry r;
  const std::string text = render(r, {}, {"1.0\"x", "Open\\SSL\n3"});
  EXPECT_EQ(value_of(text, R"(mtlsd_build_info{version="1.0\"x",openssl="Open\\SSL\n3"})"), "1");
}

TEST(exposition, certificates_sharing_service_role_and_subject_keep_the_earliest_expiry) {
  registry r;
  const std::string text = render(r,
                                  {{"api", "truststore", "CN=Root", 2000000000},
                                   {"api", "truststore", "CN=Root", 1800000000},
                                   {"api", "server", "CN=Root", 1900000000}},
                                  test::sample_build);
  const auto lines = lines_starting(text, "mtlsd_certificate_not_after_seconds{");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(value_of(text, R"(mtlsd_certificate_not_after_seconds{service="api",role="truststore",subject="CN=Root"})"),
            "1800000000");
  EXPECT_EQ(value_of(text, R"(mtlsd_certificate_not_after_seconds{service="api",role="server",subject="CN=Root"})"),
            "1900000000");
}

TEST(exposition, live_rejections_are_counted_per_reason_with_every_reason_present) {
  registry r;
  r.service("api")->live_rejections[static_cast<std::size_t>(rejection_reason::revoked)].add(2);
  const std::string text = render(r, {}, test::sample_build);
  EXPECT_EQ(value_of(text, R"(mtlsd_live_connections_rejected_total{service="api",reason="revoked"})"), "2");
  for (std::size_t i = 0; i < rejection_reason_count; ++i) {
    const auto reason = static_cast<rejection_reason>(i);
    if (reason == rejection_reason::revoked) continue;
    const std::string series = R"(mtlsd_live_connections_rejected_total{service="api",reason=")" +
                               std::string(to_string(reason)) + "\"}";
    EXPECT_EQ(value_of(text, series), "0") << series;
  }
}

TEST(exposition, upstream_handshakes_by_result_with_every_failure_reason_and_resumptions) {
  registry r;
  auto api = r.service("api");
  api->upstream_handshakes_ok.add(5);
  api->upstream_handshakes_resumed.add(3);
  api->upstream_handshake_failures[static_cast<std::size_t>(rejection_reason::hostname_mismatch)].add(2);
  const std::string text = render(r, {}, test::sample_build);
  EXPECT_EQ(value_of(text, R"(mtlsd_upstream_handshakes_total{service="api",result="success"})"), "5");
  EXPECT_EQ(value_of(text, R"(mtlsd_upstream_sessions_resumed_total{service="api"})"), "3");
  for (std::size_t i = 0; i < rejection_reason_count; ++i) {
    const auto reason = static_cast<rejection_reason>(i);
    const std::string series = R"(mtlsd_upstream_handshakes_total{service="api",result="failure",reason=")" +
                               std::string(to_string(reason)) + "\"}";
    EXPECT_EQ(value_of(text, series), reason == rejection_reason::hostname_mismatch ? "2" : "0") << series;
  }
}

TEST(exposition, each_crl_shows_its_next_update_and_one_without_shows_plus_inf) {
  registry r;
  const std::vector<crl_freshness> crls = {
      {"api", "CN=Root", 1900000000},
      {"api", "CN=Issuing", std::nullopt},
      // Two CRLs of one issuer: OpenSSL uses the newest, so the latest nextUpdate shows.
      {"web", "CN=Root", 1800000000},
      {"web", "CN=Root", 1850000000},
  };
  const std::string text = render(r, {}, test::sample_build, crls);
  EXPECT_EQ(value_of(text, R"(mtlsd_crl_next_update_seconds{service="api",issuer="CN=Root"})"), "1900000000");
  EXPECT_EQ(value_of(text, R"(mtlsd_crl_next_update_seconds{service="api",issuer="CN=Issuing"})"), "+Inf");
  EXPECT_EQ(value_of(text, R"(mtlsd_crl_next_update_seconds{service="web",issuer="CN=Root"})"), "1850000000");
  EXPECT_EQ(lines_starting(text, "mtlsd_crl_next_update_seconds{").size(), 3u);
}

TEST(exposition, each_fetched_crl_url_shows_its_last_success_and_failures) {
  registry r;
  const std::vector<crl_fetch_status> fetches = {
      {"http://crl.example.com/root.crl", 1800000000, 0},
      {"http://crl.example.com/a\"b.crl", 0, 3},  // never fetched yet; a quote in the URL is escaped
  };
  const std::string text = render(r, {}, test::sample_build, {}, fetches);
  EXPECT_EQ(value_of(text, R"(mtlsd_crl_fetch_last_success_seconds{url="http://crl.example.com/root.crl"})"),
            "1800000000");
  EXPECT_EQ(value_of(text, R"(mtlsd_crl_fetch_failures_total{url="http://crl.example.com/root.crl"})"), "0");
  EXPECT_EQ(value_of(text, R"(mtlsd_crl_fetch_last_success_seconds{url="http://crl.example.com/a\"b.crl"})"), "0");
  EXPECT_EQ(value_of(text, R"(mtlsd_crl_fetch_failures_total{url="http://crl.example.com/a\"b.crl"})"), "3");
  EXPECT_EQ(lines_starting(text, "# TYPE mtlsd_crl_fetch_failures_total counter").size(), 1u);
  EXPECT_EQ(lines_starting(text, "# TYPE mtlsd_crl_fetch_last_success_seconds gauge").size(), 1u);
}

TEST(exposition, empty_registry_still_exposes_process_families) {
  registry r;
  r.process().ready.set(0);
  r.process().draining.set(1);
  const std::string text = render(r, {}, test::sample_build);
  EXPECT_EQ(value_of(text, "mtlsd_ready"), "0");
  EXPECT_EQ(value_of(text, "mtlsd_draining"), "1");
  EXPECT_TRUE(lines_starting(text, "mtlsd_connections_accepted_total").empty());
  EXPECT_EQ(lines_starting(text, "# TYPE mtlsd_connections_accepted_total counter").size(), 1u);
}

}  // namespace
}  // namespace mtlsd::metrics
