#pragma once
// Helpers for the platform tests (owned by the platform helper): the
// environment and descriptor table are process-wide, so every test that
// touches them restores them on the way out.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pki.hpp"  // temp_dir

namespace mtlsd::test {

// Remembers the given environment variables and puts them back when destroyed.
class env_guard {
 public:
  explicit env_guard(std::vector<std::string> names);
  ~env_guard();
  env_guard(const env_guard&) = delete;
  env_guard& operator=(const env_guard&) = delete;

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

std::optional<std::string> get_env(const char* name);

// Descriptors 3 .. 3+count-1 for a test of socket activation: whatever the
// test process had there is moved away now and put back when destroyed.
class fd_slots {
 public:
  explicit fd_slots(int count);
  ~fd_slots();
  fd_slots(const fd_slots&) = delete;
  fd_slots& operator=(const fd_slots&) = delete;

  // Moves `fds` (any descriptors, closed here) to 3, 4, ...
  void place(std::vector<int> fds) const;

 private:
  int count_;
  std::vector<int> saved_;  // -1: the slot was free
};

bool fd_is_open(int fd);

}  // namespace mtlsd::test
