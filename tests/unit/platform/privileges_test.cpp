// Leaving root: after drop_privileges() a compromised worker must not be able
// to become root again, and a misconfigured user/group must stop start-up.
// The switches are irreversible, so each one runs in a forked child that
// reports through its exit status.

#include "mtlsd/platform/privileges.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mtlsd::platform {
namespace {

struct ids {
  uid_t uid;
  gid_t gid;
};

// Looked up the same way an operator would check: `id nobody`, `getent group nogroup`.
std::optional<ids> nobody_ids() {
  const passwd* user = ::getpwnam("nobody");
  const group* grp = ::getgrnam("nogroup");
  if (user == nullptr || grp == nullptr) return std::nullopt;
  return ids{user->pw_uid, grp->gr_gid};
}

// Runs `check` in a child; its return value (0 = all good, else which check
// failed) becomes the exit status. Messages go to stderr for the log.
int in_child(const std::function<int()>& check) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int code = 99;
    try {
      code = check();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: unexpected exception: %s\n", e.what());
    }
    std::fflush(nullptr);
    std::_Exit(code);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -2;
  return WEXITSTATUS(status);
}

std::vector<gid_t> supplementary_groups() {
  std::vector<gid_t> groups(static_cast<std::size_t>(::getgroups(0, nullptr)));
  const int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
  groups.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return groups;
}

// The message of the std::runtime_error drop_privileges() throws ("" when none).
std::string drop_error(const std::string& user, const std::string& group) {
  try {
    drop_privileges(user, group);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(drop_privileges, nothing_to_do_without_user_or_group) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  drop_privileges("", "");
  EXPECT_EQ(::geteuid(), uid);
  EXPECT_EQ(::getegid(), gid);
}

TEST(drop_privileges, unknown_user_or_group_is_named) {
  const std::string user_error = drop_error("mtlsd-no-such-user", "");
  EXPECT_NE(user_error.find("mtlsd-no-such-user"), std::string::npos) << user_error;
  const std::string group_error = drop_error("", "mtlsd-no-such-group");
  EXPECT_NE(group_error.find("mtlsd-no-such-group"), std::string::npos) << group_error;
}

TEST(drop_privileges, root_switches_for_good) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root; this run is not root";
  const auto nobody = nobody_ids();
  if (!nobody) GTEST_SKIP() << "no user nobody / group nogroup on this system";

  const int result = in_child([&] {
    // Groups root holds must not carry over (nobody is in neither).
    const std::vector<gid_t> root_groups{0, 4242};
    if (::setgroups(root_groups.size(), root_groups.data()) != 0) return 10;
    drop_privileges("nobody", "nogroup");
    if (::getuid() != nobody->uid || ::geteuid() != nobody->uid) return 1;
    if (::getgid() != nobody->gid || ::getegid() != nobody->gid) return 2;
    uid_t ruid = 0, euid = 0, suid = 0;
    ::getresuid(&ruid, &euid, &suid);
    if (suid != nobody->uid) return 3;
    if (supplementary_groups() != std::vector<gid_t>{nobody->gid}) return 4;
    if (::setuid(0) == 0 || ::seteuid(0) == 0) return 5;
    if (::setgid(0) == 0) return 6;
    return 0;
  });
  EXPECT_EQ(result, 0) << "1 uid, 2 gid, 3 saved uid, 4 supplementary groups, 5 root regained, 6 group 0 regained";
}

TEST(drop_privileges, primary_group_of_the_user_when_no_group_given) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root; this run is not root";
  const passwd* user = ::getpwnam("nobody");
  if (user == nullptr) GTEST_SKIP() << "no user nobody on this system";
  const uid_t uid = user->pw_uid;
  const gid_t gid = user->pw_gid;

  const int result = in_child([&] {
    drop_privileges("nobody", "");
    if (::geteuid() != uid) return 1;
    if (::getgid() != gid || ::getegid() != gid) return 2;
    return 0;
  });
  EXPECT_EQ(result, 0);
}

TEST(drop_privileges, group_only_keeps_the_user_and_clears_supplementary_groups) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching groups needs root; this run is not root";
  const auto nobody = nobody_ids();
  if (!nobody) GTEST_SKIP() << "no group nogroup on this system";

  const int result = in_child([&] {
    const gid_t extra = 4242;
    if (::setgroups(1, &extra) != 0) return 10;
    drop_privileges("", "nogroup");
    if (::geteuid() != 0) return 1;
    if (::getgid() != nobody->gid || ::getegid() != nobody->gid) return 2;
    if (!supplementary_groups().empty()) return 3;
    return 0;
  });
  EXPECT_EQ(result, 0) << "1 user changed, 2 gid, 3 supplementary groups kept";
}

TEST(drop_privileges, not_root_cannot_switch_but_may_already_be_the_target) {
  const auto nobody = nobody_ids();
  if (::geteuid() == 0 && !nobody) GTEST_SKIP() << "no user nobody / group nogroup to become unprivileged first";

  const int result = in_child([&] {
    if (::geteuid() == 0) drop_privileges("nobody", "nogroup");
    const passwd* self = ::getpwuid(::geteuid());
    const group* own_group = ::getgrgid(::getegid());
    if (self == nullptr || own_group == nullptr) return 20;
    const std::string self_name = self->pw_name;
    const std::string group_name = own_group->gr_name;
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    // Started as the configured user already (systemd User=): fine.
    drop_privileges(self_name, group_name);
    drop_privileges("", group_name);
    const std::string to_root = drop_error("root", "");
    if (to_root.find("user root") == std::string::npos || to_root.find("not running as root") == std::string::npos) {
      std::fprintf(stderr, "child: switching to user root said: \"%s\"\n", to_root.c_str());
      return 1;
    }
    const std::string to_group = drop_error("", "root");
    if (to_group.find("group root") == std::string::npos || to_group.find("not running as root") == std::string::npos) {
      std::fprintf(stderr, "child: switching to group root said: \"%s\"\n", to_group.c_str());
      return 2;
    }
    if (::geteuid() != uid || ::getegid() != gid) return 3;
    return 0;
  });
  EXPECT_EQ(result, 0) << "1 switch to user root, 2 switch to group root, 3 ids changed, 20 cannot name own ids";
}

}  // namespace
}  // namespace mtlsd::platform
