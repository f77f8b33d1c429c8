#pragma once
// Child processes for end-to-end tests: mtlsd itself, mtlsd-echo, openssl, curl.
// Owned by the test-harness helper.
//
// stdout and stderr are captured line by line on a reader thread; tests wait for
// a line (a log event) instead of sleeping, and every wait has a timeout. A child
// still running at destruction is killed and reaped — only by its own PID.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mtlsd::test {

using namespace std::chrono_literals;

// Thrown when a wait times out; the message carries the child's output so a
// failing test shows what the daemon said.
class harness_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class stream { out, err };

struct output_line {
  stream from;
  std::string text;
};

struct process_options {
  std::filesystem::path cwd;                // empty: inherit
  std::vector<std::string> extra_env;       // "NAME=value", added to (or replacing in) the inherited environment
  bool search_path = false;                 // argv[0] looked up in $PATH (openssl, curl)
};

// What a line must contain: a substring, a regular expression (rx()), or any
// predicate.
class line_matcher {
 public:
  line_matcher(const char* substring) : line_matcher(std::string(substring)) {}  // NOLINT: implicit on purpose
  line_matcher(std::string substring);                                            // NOLINT
  line_matcher(std::function<bool(const std::string&)> predicate, std::string description)
      : predicate_(std::move(predicate)), description_(std::move(description)) {}

  bool matches(const std::string& line) const { return predicate_(line); }
  const std::string& description() const { return description_; }

 private:
  std::function<bool(const std::string&)> predicate_;
  std::string description_;
};

// Convenience: rx("ready services=\\d+").
line_matcher rx(const std::string& pattern);

class process {
 public:
  explicit process(std::vector<std::string> argv, process_options options = {});
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const { return pid_; }

  // Blocks until a line (from either stream, index >= from) matches, and returns
  // it. Throws harness_error with the captured output on timeout.
  std::string wait_for_line(const line_matcher& m, std::chrono::milliseconds timeout = 10s,
                            std::size_t from = 0);
  std::optional<std::string> try_wait_for_line(const line_matcher& m, std::chrono::milliseconds timeout,
                                               std::size_t from = 0);
  // Waits until `count` lines match in total; returns them all.
  std::vector<std::string> wait_for_lines(const line_matcher& m, std::size_t count,
                                          std::chrono::milliseconds timeout = 10s);

  std::size_t line_count() const;
  std::vector<std::string> matching_lines(const line_matcher& m) const;
  std::vector<output_line> lines() const;
  std::string all_output() const;     // both streams, interleaved as read
  std::string stdout_text() const;
  std::string stderr_text() const;

  // stdin is a pipe; close_stdin() delivers EOF.
  bool write_stdin(std::string_view data);
  void close_stdin();

  void send_signal(int signo);
  bool running();
  // Exit status: the exit code, or 128 + signal number when killed by a signal
  // (the shell convention). nullopt when still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 10s);
  // Like wait_exit, but also waits for the output pipes to drain, so every line
  // the child wrote is in lines() afterwards.
  std::optional<int> wait_exit_and_output(std::chrono::milliseconds timeout = 10s);

  // For failure messages: command line plus everything captured.
  std::string describe() const;

 private:
  void reader_loop();
  bool reap(std::chrono::milliseconds timeout);

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::optional<int> exit_status_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<output_line> lines_;
  std::string partial_[2];
  bool output_closed_ = false;
  std::thread reader_;
};

// Runs a command to completion (stdin from `input`, then EOF) and returns its
// exit status and output. Kills it and throws harness_error after `timeout`.
struct run_result {
  int status = -1;
  std::string out;
  std::string err;
};
run_result run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                       const std::string& input = {}, process_options options = {});

// True when `name` is an executable found in $PATH.
bool have_program(const std::string& name);

// Tests ignore SIGPIPE (a peer closing mid-write is an expected outcome, seen as
// EPIPE); children get the default disposition back.
void ignore_sigpipe();

}  // namespace mtlsd::test
