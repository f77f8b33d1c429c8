#pragma once
// Owned by the metrics module's tests: reading rendered exposition text back,
// and a registry with every kind of metric set to a known non-zero value.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mtlsd/metrics/exposition.hpp"
#include "mtlsd/metrics/metrics.hpp"

namespace mtlsd::test {

// A sample line split at its last space: series (name and labels) and value.
struct sample_line {
  std::string series;
  std::string value;
};

// Every non-comment, non-empty line of `text`, in order.
std::vector<sample_line> sample_lines(const std::string& text);

// The value of the one sample whose series text is exactly `series`
// (e.g. `mtlsd_ready` or `mtlsd_bytes_total{service="a",direction="client_to_backend"}`);
// nullopt when absent.
std::optional<std::string> value_of(const std::string& text, const std::string& series);

// Two services ("beta" registered before "alpha"), counters at distinct known
// values, histograms with observations in several buckets and above the last.
void populate(metrics::registry& registry);

// Certificates for populate()'s services, one with a hostile subject.
std::vector<metrics::certificate_expiry> sample_certificates();

inline const metrics::build_info sample_build{"1.2.3", "OpenSSL 3.0.11 19 Sep 2023"};

// A subject with every character the format must escape, plus bytes that are not UTF-8.
inline const std::string hostile_subject = "CN=evil\"} 1\nmtlsd_ready 0\\,O=x\xff\xc0\xaf";

}  // namespace mtlsd::test
