#include "mtlsd/platform/file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

namespace mtlsd::platform {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// Shared with pending handlers, so a handler that completes after stop() or
// destruction finds `stopped` instead of a dangling object.
struct file_watch::state {
  state(asio::io_context& io, std::chrono::milliseconds q, std::function<void()> cb)
      : events(io), settle(io), quiet(q), changed(std::move(cb)) {}
  asio::posix::stream_descriptor events;
  asio::steady_timer settle;
  std::chrono::milliseconds quiet;
  std::function<void()> changed;
  std::map<int, std::string> watches;  // watch descriptor -> directory
  std::array<char, 8192> buffer{};
  bool stopped = false;
};

namespace {

// Changes that can alter what a path in the directory resolves to or holds.
constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

void directories_of(const fs::path& file, std::set<std::string>& out) {
  out.insert(file.parent_path().string());
  std::error_code ec;
  if (fs::is_directory(file, ec)) out.insert(file.string());  // a truststore directory
  const fs::path real = fs::canonical(file, ec);
  if (!ec) {
    out.insert(real.parent_path().string());
    if (fs::is_directory(real, ec)) out.insert(real.string());
  }
}

}  // namespace

file_watch::file_watch(asio::io_context& io, std::chrono::milliseconds quiet, std::function<void()> changed)
    : state_(std::make_shared<state>(io, quiet, std::move(changed))) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("cannot watch files (inotify): ") + std::strerror(errno));
  state_->events.assign(fd);
  read_events(state_);
}

file_watch::~file_watch() { stop(); }

std::vector<std::string> file_watch::watch(const std::vector<fs::path>& files) {
  std::vector<std::string> problems;
  if (state_->stopped) return problems;
  const int fd = state_->events.native_handle();
  for (const auto& [wd, dir] : state_->watches) ::inotify_rm_watch(fd, wd);
  state_->watches.clear();
  std::set<std::string> directories;
  for (const auto& f : files) directories_of(f, directories);
  for (const auto& dir : directories) {
    const int wd = ::inotify_add_watch(fd, dir.c_str(), watch_mask);
    if (wd < 0)
      problems.push_back(dir + ": " + std::strerror(errno));
    else
      state_->watches[wd] = dir;
  }
  return problems;
}

void file_watch::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->settle.cancel();
  state_->events.close(ignored);
}

void file_watch::read_events(std::shared_ptr<state> s) {
  s->events.async_read_some(asio::buffer(s->buffer), [s](const boost::system::error_code& ec, std::size_t) {
    if (ec || s->stopped) return;
    // Any event restarts the quiet period; the events' content does not
    // matter (see the header).
    s->settle.expires_after(s->quiet);
    s->settle.async_wait([s](const boost::system::error_code& wait_ec) {
      if (wait_ec || s->stopped) return;
      s->changed();
    });
    read_events(s);
  });
}

}  // namespace mtlsd::platform
