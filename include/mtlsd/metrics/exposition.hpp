#pragma once
// The Prometheus text exposition format (version 0.0.4) of everything in a
// metrics registry, plus facts the registry does not hold: loaded
// certificates' expiry and build information. Every family has HELP and TYPE
// lines; label values are escaped (backslash, double quote, newline).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mtlsd/metrics/metrics.hpp"

namespace mtlsd::metrics {

// One loaded certificate: a service's server certificate (role "server"), a
// CA of its truststore (role "truststore"), or the admin endpoint's ("admin").
struct certificate_expiry {
  std::string service;
  std::string role;
  std::string subject;  // RFC 2253 one-line form
  std::int64_t not_after_seconds = 0;  // Unix time
};

// One loaded CRL (a service's `crl`): when its issuer promises the next one.
struct crl_freshness {
  std::string service;
  std::string issuer;  // RFC 2253 one-line form
  std::optional<std::int64_t> next_update_seconds;  // Unix time; nullopt: the CRL has no nextUpdate
};

// One URL the CRL fetcher polls (crl_url, crl_from_cdp).
struct crl_fetch_status {
  std::string url;
  std::int64_t last_success_seconds = 0;  // Unix time; 0 before the first success
  std::uint64_t failures = 0;             // since start-up
};

struct build_info {
  std::string version;
  std::string openssl;
};

std::string render(const registry& metrics, const std::vector<certificate_expiry>& certificates,
                   const build_info& build, const std::vector<crl_freshness>& crls = {},
                   const std::vector<crl_fetch_status>& fetches = {});

}  // namespace mtlsd::metrics
