#include "mtlsd/cli/crl_refresh.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtlsd/config/duration.hpp"
#include "mtlsd/fetch/http_client.hpp"
#include "mtlsd/log/logging.hpp"
#include "mtlsd/tls/crl.hpp"

namespace mtlsd::cli {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::chrono::seconds crl_refresh_delay(std::int64_t now, std::int64_t this_update,
                                       std::optional<std::int64_t> next_update, std::chrono::seconds interval) {
  const std::chrono::seconds floor = std::min<std::chrono::seconds>(1min, interval);
  if (!next_update || *next_update <= this_update) return interval;
  const std::int64_t halfway = this_update + (*next_update - this_update) / 2;
  return std::clamp(std::chrono::seconds(halfway - now), floor, interval);
}

std::chrono::seconds crl_retry_delay(unsigned failures, std::int64_t now, std::optional<std::int64_t> next_update,
                                     std::chrono::seconds interval) {
  std::chrono::seconds delay = 30s;
  for (unsigned i = 1; i < failures && delay < 10min; ++i) delay *= 2;
  delay = std::min<std::chrono::seconds>({delay, 10min, interval});
  if (next_update && *next_update > now) delay = std::min(delay, std::chrono::seconds(*next_update - now));
  return std::max<std::chrono::seconds>(delay, 1s);
}

void prepare_crl_cache_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // 0700: the copies are public data, but nobody else has a reason to
    // write where the daemon takes its revocation state from.
    const mode_t old_mask = ::umask(077);
    fs::create_directories(dir, ec);
    ::umask(old_mask);
    if (ec)
      throw std::runtime_error("server.crl_cache_dir: cannot create " + dir.string() + ": " + ec.message());
  }
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error("server.crl_cache_dir: " + dir.string() + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error("server.crl_cache_dir: " + dir.string() + " is not writable: " + std::strerror(errno));
}

bool fetches_crls(const proxy::runtime& rt) {
  return std::any_of(rt.services.begin(), rt.services.end(),
                     [](const auto& s) { return s->tls && !s->tls->fetched_crls().empty(); });
}

struct crl_refresher::source {
  std::string url;
  fetch::http_url target;
  fs::path cache_file;
  // The contexts of the services that name this URL: a fetched CRL must pass
  // the checks of every one of their truststores.
  std::vector<std::shared_ptr<const tls::server_context>> users;
  std::chrono::seconds interval{3600};
  asio::steady_timer timer;
  bool stopped = false;
  unsigned failures_in_row = 0;
  std::uint64_t failures = 0;
  std::int64_t last_success = 0;

  source(asio::io_context& io, std::string u) : url(std::move(u)), timer(io) {}
};

namespace {

using source = crl_refresher::source;

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string read_all(const fs::path& file, bool& found) {
  std::ifstream in(file, std::ios::binary);
  found = static_cast<bool>(in);
  if (!found) return {};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Written in full and synced before the rename, and the directory synced
// after it: a crash leaves either the old copy or the new one, never a torn
// file that the next start-up would have to skip.
bool write_file(const fs::path& file, const std::string& bytes, bool sync, std::string& error) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot write " + file.string() + ": " + std::strerror(errno);
    return false;
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + file.string() + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    error = "cannot sync " + file.string() + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

bool replace_atomically(const fs::path& temp, const fs::path& file, std::string& error) {
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    error = "cannot rename " + temp.string() + " to " + file.string() + ": " + std::strerror(errno);
    return false;
  }
  const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

struct verdict {
  std::string error;  // empty: accepted
  std::vector<tls::crl_summary> summaries;
  bool changed = false;
};

// The checks of a `crl` file (tls::load_crls, against each user's
// truststore), then the order check against the cached copy; on success the
// copy is replaced when its bytes differ.
verdict accept(source& s, const std::string& body) {
  verdict v;
  const fs::path temp = s.cache_file.string() + ".tmp";
  std::error_code ec;
  fs::create_directories(s.cache_file.parent_path(), ec);
  if (!write_file(temp, body, false, v.error)) return v;
  const std::int64_t now = now_unix();
  for (const auto& user : s.users) {
    auto loaded = tls::load_crls({temp}, user->trust_store(), user->crl_stale(), now);
    if (!loaded.errors.empty()) {
      v.error = "refused: " + loaded.errors.front();
      break;
    }
    if (v.summaries.empty()) v.summaries = std::move(loaded.summaries);
  }
  if (v.error.empty() && v.summaries.empty()) v.error = "refused: holds no CRL";
  bool cached_found = false;
  const std::string cached = read_all(s.cache_file, cached_found);
  if (v.error.empty() && cached_found) {
    std::string ignored;
    auto old_crls = tls::parse_crls(cached, ignored);
    auto new_crls = tls::parse_crls(body, ignored);
    if (!old_crls.empty() && !new_crls.empty() && tls::crl_older(new_crls.front().get(), old_crls.front().get()))
      v.error = "refused: older than the cached CRL (lower CRL number or earlier thisUpdate)";
  }
  if (!v.error.empty()) {
    fs::remove(temp, ec);
    // The message names the temporary file; the URL is what the operator knows.
    const std::string temp_name = temp.string();
    for (const std::string file_words = "CRL file " + temp_name;;) {
      const auto at = v.error.find(file_words);
      if (at == std::string::npos) break;
      v.error.replace(at, file_words.size(), "CRL from " + s.url);
    }
    for (std::size_t at = v.error.find(temp_name); at != std::string::npos; at = v.error.find(temp_name))
      v.error.replace(at, temp_name.size(), s.url);
    return v;
  }
  v.changed = !cached_found || cached != body;
  if (!v.changed) {
    fs::remove(temp, ec);
    return v;
  }
  if (!write_file(temp, body, true, v.error) || !replace_atomically(temp, s.cache_file, v.error)) {
    fs::remove(temp, ec);
    v.changed = false;
  }
  return v;
}

std::optional<tls::crl_summary> cached_summary(const source& s) {
  bool found = false;
  const std::string bytes = read_all(s.cache_file, found);
  if (!found) return std::nullopt;
  std::string error;
  auto crls = tls::parse_crls(bytes, error);
  if (crls.empty()) return std::nullopt;
  return tls::summarize_crl(crls.front().get(), s.url);
}

}  // namespace

namespace {

void schedule(const std::shared_ptr<source>& s, std::chrono::seconds delay, const std::function<void()>& changed);

asio::awaitable<void> run_fetch(std::shared_ptr<source> s, std::function<void()> changed) {
  fetch::http_request request;
  request.url = s->target;
  const fetch::http_result result = co_await fetch::http_fetch(request);
  if (s->stopped) co_return;
  verdict v;
  if (!result.ok) {
    v.error = result.error.empty() ? "HTTP status " + std::to_string(result.status) : result.error;
  } else {
    v = accept(*s, result.body);
  }
  const std::int64_t now = now_unix();
  if (!v.error.empty()) {
    ++s->failures;
    ++s->failures_in_row;
    const auto cached = cached_summary(*s);
    const auto retry = crl_retry_delay(s->failures_in_row, now, cached ? cached->next_update_unix : std::nullopt,
                                       s->interval);
    log::warn(log::record("crl_fetch_failed")
                  .add("url", s->url)
                  .add("error", v.error)
                  .add("retry_in", format_duration(std::chrono::duration_cast<duration>(retry))));
    schedule(s, retry, changed);
    co_return;
  }
  s->failures_in_row = 0;
  s->last_success = now;
  const tls::crl_summary& first = v.summaries.front();
  log::info(log::record("crl_fetched")
                .add("url", s->url)
                .add("issuer", first.issuer)
                .add("next_update", first.next_update.empty() ? std::string("none") : first.next_update)
                .add("changed", v.changed));
  schedule(s, crl_refresh_delay(now, first.this_update_unix, first.next_update_unix, s->interval), changed);
  if (v.changed) changed();
}

void schedule(const std::shared_ptr<source>& s, std::chrono::seconds delay, const std::function<void()>& changed) {
  s->timer.expires_after(delay);
  s->timer.async_wait([s, changed](const boost::system::error_code& ec) {
    if (ec || s->stopped) return;
    asio::co_spawn(s->timer.get_executor(), run_fetch(s, changed), asio::detached);
  });
}

}  // namespace

crl_refresher::crl_refresher(asio::io_context& io, std::function<void()> changed)
    : io_(io), changed_(std::move(changed)) {}

crl_refresher::~crl_refresher() { stop(); }

void crl_refresher::follow(const proxy::runtime& rt) {
  std::map<std::string, std::shared_ptr<source>> next;
  std::vector<std::shared_ptr<source>> fresh;
  for (const auto& service : rt.services) {
    if (!service->tls) continue;
    for (const auto& fetched : service->tls->fetched_crls()) {
      auto& s = next[fetched.url];
      if (!s) {
        if (auto it = sources_.find(fetched.url); it != sources_.end() && it->second->cache_file == fetched.cache_file) {
          s = it->second;
        } else {
          s = std::make_shared<source>(io_, fetched.url);
          std::string error;
          // Validated by the loader or when the distribution points were read.
          if (auto parsed = fetch::parse_http_url(fetched.url, error)) s->target = *parsed;
          s->cache_file = fetched.cache_file;
          fresh.push_back(s);
        }
        s->users.clear();
        s->interval = std::max<std::chrono::seconds>(
            1s, std::chrono::duration_cast<std::chrono::seconds>(rt.server.crl_refresh_interval));
      }
      s->users.push_back(service->tls);
    }
  }
  for (auto& [url, s] : sources_) {
    if (next.contains(url) && next[url] == s) continue;
    s->stopped = true;
    s->timer.cancel();
  }
  sources_ = std::move(next);
  // Posted, not called from here: a reload may be what called follow().
  const auto changed = [&io = io_, handler = changed_] { asio::post(io, handler); };
  const std::int64_t now = now_unix();
  for (const auto& s : fresh) {
    // A copy past its halfway point is refreshed at once rather than after
    // the one-minute floor: after a long downtime it may be stale already.
    const auto cached = cached_summary(*s);
    const bool due = !cached || (cached->next_update_unix &&
                                 now >= cached->this_update_unix +
                                            (*cached->next_update_unix - cached->this_update_unix) / 2);
    schedule(s, due ? 0s : crl_refresh_delay(now, cached->this_update_unix, cached->next_update_unix, s->interval),
             changed);
  }
}

void crl_refresher::stop() {
  for (auto& [url, s] : sources_) {
    s->stopped = true;
    s->timer.cancel();
  }
  sources_.clear();
}

std::vector<metrics::crl_fetch_status> crl_refresher::statuses() const {
  std::vector<metrics::crl_fetch_status> out;
  for (const auto& [url, s] : sources_) out.push_back({url, s->last_success, s->failures});
  return out;
}

}  // namespace mtlsd::cli
