#pragma once
// Owner: cli module. The background fetcher of CRLs named by crl_url and
// crl_from_cdp (docs/revocation.md). It lives on the daemon's control thread
// (the main io_context) and never blocks it: each URL has a timer and at most
// one fetch in flight. What it fetches is checked exactly like a `crl` file
// and, only when it passes and is not older than the cached copy, replaces
// the copy in crl_cache_dir; the TLS contexts read those copies when they are
// built, so a changed copy is put into service by the daemon's reload.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "mtlsd/metrics/exposition.hpp"
#include "mtlsd/proxy/runtime.hpp"

namespace mtlsd::cli {

// When to fetch again after a success: halfway between thisUpdate and
// nextUpdate, so a CA that is down for a while still leaves half the
// validity period to retry in; never sooner than a minute (or `interval`
// when shorter) and never later than `interval`. Without a nextUpdate: `interval`.
std::chrono::seconds crl_refresh_delay(std::int64_t now, std::int64_t this_update,
                                       std::optional<std::int64_t> next_update, std::chrono::seconds interval);

// When to retry after the `failures`-th failure in a row (1, 2, ...): 30 s
// doubling up to 10 minutes, no later than `interval`, and no later than the
// cached CRL's nextUpdate while that is still ahead (at least a second).
std::chrono::seconds crl_retry_delay(unsigned failures, std::int64_t now, std::optional<std::int64_t> next_update,
                                     std::chrono::seconds interval);

// Creates `dir` (mode 0700) when missing and checks that it is writable;
// throws std::runtime_error naming server.crl_cache_dir otherwise.
void prepare_crl_cache_dir(const std::filesystem::path& dir);

// True when any service of `rt` fetches CRLs.
bool fetches_crls(const proxy::runtime& rt);

class crl_refresher {
 public:
  // `changed` runs (posted to `io`) after a fetch replaced a cached CRL.
  crl_refresher(boost::asio::io_context& io, std::function<void()> changed);
  ~crl_refresher();
  crl_refresher(const crl_refresher&) = delete;
  crl_refresher& operator=(const crl_refresher&) = delete;

  // Takes the URLs of a new generation: URLs no longer named are dropped,
  // new ones are scheduled (at once when there is no cached copy yet, else
  // from the cached copy's dates); the others keep their schedule.
  void follow(const proxy::runtime& rt);
  // Cancels every timer; a fetch in flight finishes (bounded by its timeout) and is discarded.
  void stop();
  std::vector<metrics::crl_fetch_status> statuses() const;

  struct source;  // one URL; defined in crl_refresh.cpp

 private:
  boost::asio::io_context& io_;
  std::function<void()> changed_;
  std::map<std::string, std::shared_ptr<source>> sources_;
};

}  // namespace mtlsd::cli
