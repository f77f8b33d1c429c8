#include <linux/sched.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "sandbox_steps.hpp"

// The sanitizers' runtimes make calls of their own: LSan stops the world at
// exit with a tracer task (clone without CLONE_THREAD, ptrace, waitpid,
// and the pre-getdents64 getdents to list the threads on x86-64),
// ASan/TSan reports run a symbolizer (fork, execve). Those builds test the
// code, not the filter's strictness, so they get those calls too.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MTLSD_SANITIZER_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define MTLSD_SANITIZER_RUNTIME 1
#endif
#endif

namespace mtlsd::platform::detail {

namespace {

// The calls the daemon made after start-up across the whole integration
// suite (strace -f -c attached to every mtlsd the suite started, then the
// suite again with MTLSD_SANDBOX_DEBUG=1 reporting none refused), plus the
// variant glibc may pick instead on another kernel or architecture (open /
// openat, stat / newfstatat / statx, epoll_wait / epoll_pwait, ...). Names
// unknown on an architecture are skipped.
constexpr const char* allowed_calls[] = {
    // Files: the loader, reload fingerprints, the CRL cache, inotify.
    "read", "write", "readv", "writev", "pread64", "close", "lseek", "open", "openat", "stat", "fstat", "lstat",
    "newfstatat", "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64", "fcntl",
    "rename", "renameat", "renameat2", "unlink", "unlinkat", "fsync", "fdatasync", "inotify_init1",
    "inotify_add_watch", "inotify_rm_watch",
    // Memory and threads.
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "futex", "set_robust_list", "rseq", "sched_yield",
    // Time.
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday",
    // Process facts (logs, /status, glibc's own checks).
    "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "uname", "sysinfo", "prlimit64", "getrlimit",
    // Event loops (Asio's epoll reactor and its timers).
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2", "timerfd_create",
    "timerfd_settime", "timerfd_gettime", "poll", "ppoll",
    // Sockets: listeners (a reload may bind a new one), backends, health
    // checks, CRL/OCSP fetches, the admin endpoint, sd_notify, DNS.
    "connect", "accept", "accept4", "bind", "listen", "getsockname", "getpeername", "setsockopt", "getsockopt",
    "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
    // Randomness for OpenSSL.
    "getrandom",
    // Signal masks and abort(); SIGTERM/SIGHUP themselves are read from a
    // signalfd opened before the filter.
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "tgkill", "restart_syscall",
    // Ending threads and the process.
    "exit", "exit_group"};

// Calls only an intruder would make once mtlsd is running: the process is
// killed rather than told EPERM, so the attempt cannot be retried and shows
// up as a crash (and in the audit log).
constexpr const char* fatal_calls[] = {
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
    "chroot", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
    "setgroups", "capset", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf",
    "perf_event_open", "unshare", "setns", "keyctl", "add_key", "request_key", "reboot", "swapon", "swapoff",
    "userfaultfd", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "kcmp", "fork", "vfork",
    "io_uring_setup", "personality"};

#ifdef MTLSD_SANITIZER_RUNTIME
constexpr const char* sanitizer_calls[] = {
    "ptrace", "wait4", "waitid", "execve", "fork", "vfork", "kill", "personality", "getpgid", "mincore", "pipe",
    "pipe2", "dup", "dup2", "dup3", "sigaltstack", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
    "getppid", "getrusage", "clone", "socketpair", "getdents", "get_robust_list", "rt_sigtimedwait", "getresuid",
    "getresgid"};
#endif

struct ctx_free {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using filter_ptr = std::unique_ptr<void, ctx_free>;

[[noreturn]] void fail(const std::string& what, int rc) {
  throw std::runtime_error("sandbox: seccomp " + what + ": " + std::strerror(-rc));
}

int number_of(const char* name) { return seccomp_syscall_resolve_name(name); }

void add(scmp_filter_ctx ctx, std::uint32_t action, const char* name) {
  const int nr = number_of(name);
  if (nr == __NR_SCMP_ERROR) return;
  if (const int rc = seccomp_rule_add(ctx, action, nr, 0); rc != 0) fail(std::string("rule for ") + name, rc);
}

void add_if_arg(scmp_filter_ctx ctx, const char* name, unsigned arg, std::initializer_list<std::uint64_t> values,
                std::uint64_t mask = ~0ULL) {
  const int nr = number_of(name);
  if (nr == __NR_SCMP_ERROR) return;
  for (const auto value : values) {
    const scmp_arg_cmp cmp{arg, SCMP_CMP_MASKED_EQ, mask, value};
    if (const int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp); rc != 0)
      fail(std::string("rule for ") + name, rc);
  }
}

bool debug_mode() {
  const char* value = std::getenv("MTLSD_SANDBOX_DEBUG");
  return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
}

// Debug mode: say which call was refused, then let it fail with EPERM as
// it would without the debug mode. Only async-signal-safe calls in here.
void on_sigsys(int, siginfo_t* info, void* context) {
  char line[96] = "mtlsd: sandbox_blocked syscall=";
  std::size_t len = std::strlen(line);
  char digits[16];
  std::size_t n = 0;
  unsigned value = static_cast<unsigned>(info->si_syscall);
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && n < sizeof digits);
  while (n > 0) line[len++] = digits[--n];
  line[len++] = '\n';
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line, len);
  auto* uc = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
  uc->uc_mcontext.regs[0] = static_cast<unsigned long long>(-EPERM);
#else
  (void)uc;
#endif
}

}  // namespace

bool apply_seccomp(std::string& degraded) {
  const bool debug = debug_mode();
  if (debug) {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSYS, &sa, nullptr);
  }
  // EPERM, not death, for a call nobody foresaw: a proxy holding thousands
  // of connections should see one failed operation, not crash on a libc
  // update that picks a new system call (docs/security.md).
  filter_ptr ctx(seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) throw std::runtime_error("sandbox: seccomp_init failed");
  // libseccomp checks here that the kernel has the seccomp() call with
  // TSYNC; without it, only the calling thread could be filtered.
  if (const int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    if (rc != -EOPNOTSUPP && rc != -EINVAL) fail("TSYNC", rc);
    degraded = "seccomp unavailable (no seccomp() system call with TSYNC)";
    return false;
  }

  // A call through another architecture's entry (int 0x80 on x86-64) would
  // bypass every rule below, which are by this architecture's numbers.
  if (const int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0)
    fail("bad-architecture action", rc);
  for (const char* name : allowed_calls) add(ctx.get(), SCMP_ACT_ALLOW, name);
  // Threads only, never new processes. glibc starts threads with clone3,
  // whose flags a filter cannot see (they are behind a pointer): ENOSYS
  // makes it fall back to clone, whose flags are an argument.
  add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), "clone3");
  add_if_arg(ctx.get(), "clone", 0, {CLONE_THREAD}, CLONE_THREAD);
  add_if_arg(ctx.get(), "socket", 0, {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}, 0xffffffffULL);
  add_if_arg(ctx.get(), "socketpair", 0, {AF_UNIX}, 0xffffffffULL);
  // Non-blocking mode and readable bytes (Asio), is-a-terminal (spdlog),
  // bytes still queued to a backend (a session ending abnormally resets it).
  add_if_arg(ctx.get(), "ioctl", 1, {FIONBIO, FIONREAD, FIOCLEX, FIONCLEX, TCGETS, SIOCOUTQ}, 0xffffffffULL);
  add_if_arg(ctx.get(), "prctl", 0, {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE}, 0xffffffffULL);
#ifdef MTLSD_SANITIZER_RUNTIME
  for (const char* name : sanitizer_calls) add(ctx.get(), SCMP_ACT_ALLOW, name);
  add(ctx.get(), SCMP_ACT_ALLOW, "prctl");
  add(ctx.get(), SCMP_ACT_ALLOW, "ioctl");
#endif
  for (const char* name : fatal_calls) {
#ifdef MTLSD_SANITIZER_RUNTIME
    bool sanitizer_needs = false;
    for (const char* s : sanitizer_calls) sanitizer_needs = sanitizer_needs || std::strcmp(s, name) == 0;
    if (sanitizer_needs) continue;
#endif
    add(ctx.get(), SCMP_ACT_KILL_PROCESS, name);
  }

  const int rc = seccomp_load(ctx.get());
  if (rc == 0) return true;
  // No seccomp filter support in the kernel, or a container that refuses
  // the seccomp() call itself.
  if (rc == -EINVAL || rc == -ENOSYS || rc == -EPERM || rc == -EACCES) {
    degraded = std::string("seccomp unavailable (") + std::strerror(-rc) + ")";
    return false;
  }
  fail("load", rc);
}

}  // namespace mtlsd::platform::detail
