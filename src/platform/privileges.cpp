#include "mtlsd/platform/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

namespace mtlsd::platform {

namespace {

struct user_entry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::string errno_text(int error) { return std::strerror(error); }

// The _r variants: the buffer size hint may be absent (-1) or too small for a
// group with many members, so grow on ERANGE, within reason.
template <typename Entry, typename Lookup>
std::optional<Entry> lookup(const std::string& name, int size_hint_name, Lookup lookup_fn, const std::string& what) {
  long hint = ::sysconf(size_hint_name);
  std::vector<char> buffer(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  for (int attempt = 0; attempt < 8; ++attempt) {
    Entry entry{};
    Entry* result = nullptr;
    const int error = lookup_fn(name.c_str(), &entry, buffer.data(), buffer.size(), &result);
    if (error == ERANGE) {
      buffer.resize(buffer.size() * 4);
      continue;
    }
    if (error != 0) throw std::runtime_error("cannot look up " + what + " " + name + ": " + errno_text(error));
    if (result == nullptr) return std::nullopt;
    return entry;
  }
  throw std::runtime_error("cannot look up " + what + " " + name + ": entry too large");
}

user_entry find_user(const std::string& name) {
  const auto entry = lookup<passwd>(name, _SC_GETPW_R_SIZE_MAX, ::getpwnam_r, "user");
  if (!entry) throw std::runtime_error("cannot switch to user " + name + ": no such user");
  return user_entry{name, entry->pw_uid, entry->pw_gid};
}

gid_t find_group(const std::string& name) {
  const auto entry = lookup<group>(name, _SC_GETGR_R_SIZE_MAX, ::getgrnam_r, "group");
  if (!entry) throw std::runtime_error("cannot switch to group " + name + ": no such group");
  return entry->gr_gid;
}

}  // namespace

void drop_privileges(const std::string& user, const std::string& group) {
  if (user.empty() && group.empty()) return;

  std::optional<user_entry> target_user;
  if (!user.empty()) target_user = find_user(user);
  const gid_t gid = group.empty() ? target_user->gid : find_group(group);
  const uid_t uid = target_user ? target_user->uid : ::geteuid();
  // Name what the operator asked for in errors: the user when there is one.
  const std::string subject = target_user ? "user " + user : "group " + group;

  if (::geteuid() != 0) {
    // Already running as the target (started by systemd with User=, or by
    // the user himself): nothing to switch, and nothing to fail on.
    if (uid == ::geteuid() && uid == ::getuid() && gid == ::getegid() && gid == ::getgid()) return;
    throw std::runtime_error("cannot switch to " + subject + ": not running as root");
  }

  // Groups before the user ids: once we are no longer root, changing them is refused.
  if (target_user) {
    if (::initgroups(target_user->name.c_str(), gid) != 0)
      throw std::runtime_error("cannot set the supplementary groups of user " + user + ": " + errno_text(errno));
  } else if (::setgroups(0, nullptr) != 0) {
    throw std::runtime_error("cannot clear the supplementary groups for group " + group + ": " + errno_text(errno));
  }
  // setres*id: real, effective and saved ids all change, so no saved root id
  // is left behind to switch back to.
  if (::setresgid(gid, gid, gid) != 0)
    throw std::runtime_error("cannot switch to group " + (group.empty() ? std::to_string(gid) : group) + " for " +
                             subject + ": " + errno_text(errno));
  if (target_user && ::setresuid(uid, uid, uid) != 0)
    throw std::runtime_error("cannot switch to " + subject + ": " + errno_text(errno));

  if (uid != 0) {
    // Paranoia: if any id or capability was left behind (a kernel or libc
    // not doing what it says), keeping on running would be silently unsafe.
    if (::setuid(0) == 0 || ::seteuid(0) == 0)
      throw std::runtime_error("switched to " + subject + " but root privileges could be regained");
    if (gid != 0 && (::setgid(0) == 0 || ::setegid(0) == 0))
      throw std::runtime_error("switched to " + subject + " but the root group could be regained");
  }
}

}  // namespace mtlsd::platform
