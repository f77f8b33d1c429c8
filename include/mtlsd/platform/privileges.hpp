#pragma once
// Leaving root after start-up: mtlsd may be started as root to bind ports
// below 1024 and read keys that only root can read, then runs as
// [server] user / group. Owned by the platform module.

#include <string>

namespace mtlsd::platform {

// Switches to `group` (or the user's primary group when empty) and `user`,
// with the user's supplementary groups (or none), and verifies that root
// cannot be regained. Does nothing when both are empty. Throws
// std::runtime_error naming the user or group on any failure, including
// when not running as root but asked to switch to another user (already
// being that user and group is fine). With only `group`, the user stays as
// it is. glibc applies the switch to every thread of the process.
void drop_privileges(const std::string& user, const std::string& group);

}  // namespace mtlsd::platform
