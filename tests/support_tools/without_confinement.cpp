// Test-only: runs a command (mtlsd) as if on a kernel or in a container
// without Landlock ("landlock") or without Landlock and seccomp ("all"):
// a seccomp filter of our own makes those calls fail the way such a system
// does (ENOSYS), then execs the command. Used by the sandbox integration
// tests to exercise the degraded path on a machine that has both.

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace {

sock_filter fail_with(unsigned error) {
  return BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[1], "landlock") != 0 && std::strcmp(argv[1], "all") != 0)) {
    std::fprintf(stderr, "usage: %s landlock|all COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  const bool all = std::strcmp(argv[1], "all") == 0;
  std::vector<unsigned> refused{SYS_landlock_create_ruleset, SYS_landlock_add_rule, SYS_landlock_restrict_self};
  if (all) refused.push_back(SYS_seccomp);

  // The architecture is the one this tool was built for, like mtlsd.
  std::vector<sock_filter> program;
  program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  for (const unsigned nr : refused) {
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
    program.push_back(fail_with(ENOSYS));
  }
  if (all) {
    // The older way in, prctl(PR_SET_SECCOMP), as a kernel without
    // CONFIG_SECCOMP_FILTER answers it.
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3));
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_SECCOMP, 0, 1));
    program.push_back(fail_with(EINVAL));
  }
  program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));

  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
    std::perror("without_confinement: cannot install the filter");
    return 2;
  }
  ::execv(argv[2], argv + 2);
  std::perror("without_confinement: exec");
  return 127;
}
