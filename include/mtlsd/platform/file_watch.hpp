#pragma once
// Notices when any file the configuration names changes, so mounted secrets
// reload themselves ([server] watch = true). inotify watches each file's
// directory — as written and after resolving symlinks — rather than the file:
// Kubernetes updates a Secret volume by swapping the `..data` symlink in the
// directory, and editors and cert-manager replace files by rename; neither
// touches the old file's inode.
//
// Events only start a quiet period; `changed` runs once no event came for
// `quiet`, so a burst (a key and a certificate written one after the other,
// a symlink swap plus the old directory's removal) gives one call. Whether
// anything really changed is for the caller to decide (content fingerprint):
// a directory also holds files the config does not name.
//
// Runs on the io_context it is given; not thread-safe.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mtlsd::platform {

class file_watch {
 public:
  // Throws std::runtime_error when inotify is unavailable.
  file_watch(boost::asio::io_context& io, std::chrono::milliseconds quiet, std::function<void()> changed);
  ~file_watch();
  file_watch(const file_watch&) = delete;
  file_watch& operator=(const file_watch&) = delete;

  // Watches the directories of `files` (replacing the previous set). Returns
  // the directories that could not be watched, with the reason.
  std::vector<std::string> watch(const std::vector<std::filesystem::path>& files);
  void stop();

 private:
  struct state;
  static void read_events(std::shared_ptr<state> s);

  std::shared_ptr<state> state_;
};

}  // namespace mtlsd::platform
