#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <regex>
#include <sstream>

#include "secret_audit.hpp"

extern char** environ;

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::array<int, 2> make_pipe() {
  std::array<int, 2> fds{-1, -1};
  // CLOEXEC: tests spawn children from several threads, and a pipe end leaked
  // into an unrelated child would keep our reader from ever seeing EOF.
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw harness_error(std::string("pipe2: ") + std::strerror(errno));
  }
  return fds;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int remaining_ms(clock_type::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

line_matcher::line_matcher(std::string substring)
    : predicate_([substring](const std::string& line) { return line.find(substring) != std::string::npos; }),
      description_(std::move(substring)) {}

line_matcher rx(const std::string& pattern) {
  std::regex re(pattern);
  return line_matcher([re](const std::string& line) { return std::regex_search(line, re); }, "/" + pattern + "/");
}

void ignore_sigpipe() {
  struct sigaction sa {};
  sa.sa_handler = SIG_IGN;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGPIPE, &sa, nullptr);
}

process::process(std::vector<std::string> argv, process_options options) : argv_(std::move(argv)) {
  if (argv_.empty()) throw harness_error("process: empty argv");
  ignore_sigpipe();

  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());

  // The child starts with default signal handling and an empty mask, whatever
  // this test process has ignored or blocked (ignored signals survive exec).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  ::sigfillset(&all);
  ::sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  // An extra variable replaces an inherited one of the same name: getenv()
  // returns the first match, so appending alone would not override it.
  const auto overridden = [&](std::string_view entry) {
    const std::string_view name = entry.substr(0, entry.find('='));
    for (const auto& extra : options.extra_env)
      if (std::string_view(extra).substr(0, extra.find('=')) == name) return true;
    return false;
  };
  std::vector<std::string> env_storage;
  for (char** e = environ; e && *e; ++e)
    if (!overridden(*e)) env_storage.emplace_back(*e);
  for (const auto& extra : options.extra_env) env_storage.push_back(extra);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);

  const int rc = options.search_path
                     ? ::posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), envp.data())
                     : ::posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    pid_ = -1;
    throw harness_error("posix_spawn " + argv_[0] + ": " + std::strerror(rc));
  }
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  stderr_fd_ = err[0];
  // A pidfd lets wait_exit block on poll() instead of polling waitpid in a loop.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  reader_ = std::thread([this] { reader_loop(); });
}

process::~process() {
  close_stdin();
  if (pid_ > 0 && !exit_status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_status_ = decode_status(status);
  }
  // With the child gone its pipe ends close and the reader sees EOF — unless a
  // grandchild inherited them. Then wait a bounded time and tell the reader to stop.
  {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 2s, [this] { return output_closed_; });
    output_closed_ = true;
  }
  if (reader_.joinable()) reader_.join();
  audit_process_output(argv_, all_output());
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
  close_fd(pidfd_);
}

void process::reader_loop() {
  std::array<pollfd, 2> fds{pollfd{stdout_fd_, POLLIN, 0}, pollfd{stderr_fd_, POLLIN, 0}};
  char buffer[8192];
  int open_count = 2;
  while (open_count > 0) {
    {
      std::lock_guard lock(mutex_);
      if (output_closed_) return;  // destructor gave up waiting (a grandchild holds the pipe)
    }
    const int n = ::poll(fds.data(), fds.size(), 200);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (got <= 0) {
        if (!partial_[i].empty()) {
          lines_.push_back({static_cast<stream>(i), std::move(partial_[i])});
          partial_[i].clear();
        }
        fds[i].fd = -1;
        --open_count;
      } else {
        std::string& part = partial_[i];
        part.append(buffer, static_cast<std::size_t>(got));
        std::size_t start = 0;
        for (auto nl = part.find('\n', start); nl != std::string::npos; nl = part.find('\n', start)) {
          std::string line = part.substr(start, nl - start);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          lines_.push_back({static_cast<stream>(i), std::move(line)});
          start = nl + 1;
        }
        part.erase(0, start);
      }
      changed_.notify_all();
    }
  }
  std::lock_guard lock(mutex_);
  output_closed_ = true;
  changed_.notify_all();
}

std::optional<std::string> process::try_wait_for_line(const line_matcher& m, std::chrono::milliseconds timeout,
                                                      std::size_t from) {
  std::unique_lock lock(mutex_);
  std::size_t checked = from;
  std::optional<std::string> found;
  changed_.wait_for(lock, timeout, [&] {
    for (; checked < lines_.size(); ++checked) {
      if (m.matches(lines_[checked].text)) {
        found = lines_[checked].text;
        return true;
      }
    }
    return output_closed_;  // nothing more will ever arrive
  });
  return found;
}

std::string process::wait_for_line(const line_matcher& m, std::chrono::milliseconds timeout, std::size_t from) {
  if (auto line = try_wait_for_line(m, timeout, from)) return *line;
  throw harness_error("no line matching '" + m.description() + "' within " + std::to_string(timeout.count()) +
                      " ms\n" + describe());
}

std::vector<std::string> process::wait_for_lines(const line_matcher& m, std::size_t count,
                                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> found;
  std::size_t checked = 0;
  const bool ok = changed_.wait_for(lock, timeout, [&] {
    for (; checked < lines_.size(); ++checked) {
      if (m.matches(lines_[checked].text)) found.push_back(lines_[checked].text);
    }
    return found.size() >= count || output_closed_;
  });
  if (!ok || found.size() < count) {
    lock.unlock();
    throw harness_error("wanted " + std::to_string(count) + " lines matching '" + m.description() + "', got " +
                        std::to_string(found.size()) + "\n" + describe());
  }
  return found;
}

std::size_t process::line_count() const {
  std::lock_guard lock(mutex_);
  return lines_.size();
}

std::vector<std::string> process::matching_lines(const line_matcher& m) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& l : lines_) {
    if (m.matches(l.text)) out.push_back(l.text);
  }
  return out;
}

std::vector<output_line> process::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

std::string process::all_output() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& l : lines_) {
    out += l.text;
    out += '\n';
  }
  return out;
}

std::string process::stdout_text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& l : lines_) {
    if (l.from != stream::out) continue;
    out += l.text;
    out += '\n';
  }
  return out;
}

std::string process::stderr_text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& l : lines_) {
    if (l.from != stream::err) continue;
    out += l.text;
    out += '\n';
  }
  return out;
}

bool process::write_stdin(std::string_view data) {
  while (!data.empty() && stdin_fd_ >= 0) {
    const ssize_t n = ::write(stdin_fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return data.empty();
}

void process::close_stdin() { close_fd(stdin_fd_); }

void process::send_signal(int signo) {
  if (pid_ > 0 && !exit_status_) ::kill(pid_, signo);
}

bool process::running() { return !wait_exit(0ms).has_value(); }

bool process::reap(std::chrono::milliseconds timeout) {
  if (exit_status_) return true;
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = decode_status(status);
      return true;
    }
    if (r < 0 && errno != EINTR) {
      exit_status_ = -1;
      return true;
    }
    const int left = remaining_ms(deadline);
    if (left == 0) return false;
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      ::poll(&p, 1, left);
    } else {
      // No pidfd (old kernel): a short bounded nap between checks is all we have.
      std::this_thread::sleep_for(std::min(std::chrono::milliseconds(left), 5ms));
    }
  }
}

std::optional<int> process::wait_exit(std::chrono::milliseconds timeout) {
  if (!reap(timeout)) return std::nullopt;
  return exit_status_;
}

std::optional<int> process::wait_exit_and_output(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  auto status = wait_exit(timeout);
  if (!status) return std::nullopt;
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, std::chrono::milliseconds(std::max(remaining_ms(deadline), 1000)),
                    [this] { return output_closed_; });
  return status;
}

std::string process::describe() const {
  std::ostringstream out;
  out << "command:";
  for (const auto& a : argv_) out << ' ' << a;
  out << "\n--- output ---\n" << all_output() << "--- end ---";
  return out.str();
}

run_result run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout, const std::string& input,
                       process_options options) {
  process p(std::move(argv), std::move(options));
  if (!input.empty()) p.write_stdin(input);
  p.close_stdin();
  auto status = p.wait_exit_and_output(timeout);
  if (!status) {
    p.send_signal(SIGKILL);
    throw harness_error("command did not finish within " + std::to_string(timeout.count()) + " ms\n" +
                        p.describe());
  }
  return run_result{*status, p.stdout_text(), p.stderr_text()};
}

bool have_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string_view rest = path;
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace mtlsd::test
