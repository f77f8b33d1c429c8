// [server] sandbox: which paths stay open to the confined daemon (a
// certificate rotated by rename or symlink swap must still load; a file
// elsewhere must be refused with a clear reload error), and what the
// confinement does to a process once applied (in a forked child, so the
// test runner itself stays free).

#include "mtlsd/platform/sandbox.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "pki.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MTLSD_TEST_SANITIZED 1
#endif

namespace mtlsd::platform {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p) { std::ofstream(p) << "x"; }

bool contains(const std::vector<fs::path>& list, const fs::path& p) {
  return std::find(list.begin(), list.end(), p) != list.end();
}

TEST(sandbox_paths, the_directory_of_every_named_file_is_readable) {
  test::temp_dir dir;
  fs::create_directories(dir / "conf");
  fs::create_directories(dir / "certs");
  touch(dir / "conf/mtlsd.toml");
  touch(dir / "certs/server.crt");
  const auto paths = sandbox_paths_for({dir / "conf/mtlsd.toml", {dir / "certs/server.crt"}, {}, {}});
  EXPECT_TRUE(contains(paths.read, dir / "conf"));
  EXPECT_TRUE(contains(paths.read, dir / "certs"));
  EXPECT_TRUE(paths.write.empty());
  EXPECT_TRUE(paths.remove.empty());
  // What the libraries read on their own: the CA store and resolver files.
  EXPECT_TRUE(contains(paths.read, "/etc/ssl"));
  EXPECT_TRUE(contains(paths.read, "/etc/resolv.conf"));
  // A symlinked system directory (/lib -> usr/lib with a merged /usr)
  // allows where it leads, never that place's parent.
  EXPECT_FALSE(contains(paths.read, "/usr"));
  EXPECT_FALSE(contains(paths.read, "/"));
  EXPECT_FALSE(contains(paths.read, "/proc"));
}

TEST(sandbox_paths, a_symlinked_file_allows_the_directory_it_points_into) {
  // certbot's layout: live/<name>/cert.pem -> ../../archive/<name>/cert1.pem;
  // renewal adds cert2.pem in archive/ and swaps the link.
  test::temp_dir dir;
  fs::create_directories(dir / "live/example");
  fs::create_directories(dir / "archive/example");
  touch(dir / "archive/example/cert1.pem");
  fs::create_symlink("../../archive/example/cert1.pem", dir / "live/example/cert.pem");
  const auto paths = sandbox_paths_for({{}, {dir / "live/example/cert.pem"}, {}, {}});
  const fs::path archive = fs::canonical(dir / "archive/example");
  EXPECT_TRUE(contains(paths.read, archive));

  touch(dir / "archive/example/cert2.pem");
  fs::remove(dir / "live/example/cert.pem");
  fs::create_symlink("../../archive/example/cert2.pem", dir / "live/example/cert.pem");
  EXPECT_TRUE(sandbox_covers(paths.read, dir / "live/example/cert.pem"));
}

TEST(sandbox_paths, a_file_replaced_by_rename_in_its_directory_stays_covered) {
  test::temp_dir dir;
  touch(dir / "server.crt");
  const auto paths = sandbox_paths_for({{}, {dir / "server.crt"}, {}, {}});
  touch(dir / "server.crt.new");
  fs::rename(dir / "server.crt.new", dir / "server.crt");
  EXPECT_TRUE(sandbox_covers(paths.read, dir / "server.crt"));
  EXPECT_TRUE(sandbox_covers(paths.read, dir / "a-file-added-later.crt"));
}

TEST(sandbox_paths, coverage_is_by_whole_path_components) {
  const std::vector<fs::path> allowed{"/srv/certs"};
  EXPECT_TRUE(sandbox_covers(allowed, "/srv/certs/a.pem"));
  EXPECT_TRUE(sandbox_covers(allowed, "/srv/certs/sub/a.pem"));
  EXPECT_TRUE(sandbox_covers(allowed, "/srv/certs/../certs/a.pem"));
  EXPECT_FALSE(sandbox_covers(allowed, "/srv/certs2/a.pem"));
  EXPECT_FALSE(sandbox_covers(allowed, "/srv/certs/../other/a.pem"));
  EXPECT_FALSE(sandbox_covers(allowed, "/srv/a.pem"));
}

TEST(sandbox_paths, a_reload_naming_a_new_directory_is_blocked) {
  test::temp_dir dir;
  fs::create_directories(dir / "conf");
  fs::create_directories(dir / "certs");
  fs::create_directories(dir / "elsewhere");
  touch(dir / "conf/mtlsd.toml");
  touch(dir / "certs/a.crt");
  touch(dir / "elsewhere/b.crt");
  const auto applied = sandbox_paths_for({dir / "conf/mtlsd.toml", {dir / "certs/a.crt"}, {}, {}});

  // The same directory, another file; or beside the config (relative paths
  // start there): fine.
  EXPECT_TRUE(sandbox_blocks(applied, {dir / "conf/mtlsd.toml", {dir / "certs/other.crt"}, {}, {}}).empty());
  EXPECT_TRUE(sandbox_blocks(applied, {dir / "conf/mtlsd.toml", {dir / "conf/sub/c.crt"}, {}, {}}).empty());
  const auto blocked =
      sandbox_blocks(applied, {dir / "conf/mtlsd.toml", {dir / "certs/a.crt", dir / "elsewhere/b.crt"}, {}, {}});
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked.front(), dir / "elsewhere/b.crt");
}

TEST(sandbox_paths, the_crl_cache_must_have_been_writable_from_the_start) {
  test::temp_dir dir;
  fs::create_directories(dir / "crl");
  fs::create_directories(dir / "conf");
  touch(dir / "conf/mtlsd.toml");
  const auto without = sandbox_paths_for({dir / "conf/mtlsd.toml", {}, {}, {}});
  const sandbox_needs fetching{dir / "conf/mtlsd.toml", {dir / "crl/x.crl"}, dir / "crl", {}};
  EXPECT_FALSE(sandbox_blocks(without, fetching).empty());

  const auto with = sandbox_paths_for(fetching);
  EXPECT_TRUE(contains(with.write, dir / "crl"));
  EXPECT_TRUE(sandbox_blocks(with, fetching).empty());
}

TEST(sandbox_paths, the_pid_file_directory_allows_removal) {
  test::temp_dir dir;
  const auto paths = sandbox_paths_for({{}, {}, {}, dir / "run/mtlsd.pid"});
  EXPECT_TRUE(contains(paths.remove, dir / "run"));
}

// ---- applied, in a child process -------------------------------------------

std::string status_field(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  return "";
}

// Runs `body` in a forked child after confining it to `paths`; the child's
// exit status: 0 when every check passed, otherwise the failed check's number.
int in_confined_child(const sandbox_paths& paths, int (*body)(const sandbox_result&)) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 100;
    try {
      // The child's own /proc entry, for reading its status once confined.
      sandbox_paths own = paths;
      own.read.push_back(fs::canonical("/proc/self"));
      code = body(apply_sandbox(own));
    } catch (...) {
      code = 101;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 200 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

fs::path g_allowed_dir;
fs::path g_other_dir;

int confined_checks(const sandbox_result& result) {
  if (result.landlock_abi > 0) {
    if (::open((g_allowed_dir / "a.pem").c_str(), O_RDONLY | O_CLOEXEC) < 0) return 1;
    if (::open((g_other_dir / "b.pem").c_str(), O_RDONLY | O_CLOEXEC) >= 0) return 2;
    if (errno != EACCES) return 3;
    // Read-only even where reading is allowed.
    if (::open((g_allowed_dir / "new.pem").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0) return 4;
  }
  if (result.seccomp) {
    if (status_field("Seccomp") != "2") return 5;
    // Only the address families the daemon uses.
    if (::socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EPERM) return 6;
    const int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (tcp < 0) return 7;
    ::close(tcp);
  }
  if (status_field("NoNewPrivs") != "1") return 8;
  return 0;
}

TEST(sandbox_apply, confines_files_and_system_calls) {
  test::temp_dir dir;
  g_allowed_dir = dir / "allowed";
  g_other_dir = dir / "other";
  fs::create_directories(g_allowed_dir);
  fs::create_directories(g_other_dir);
  touch(g_allowed_dir / "a.pem");
  touch(g_other_dir / "b.pem");
  sandbox_paths paths;
  paths.read.push_back(g_allowed_dir);
  EXPECT_EQ(in_confined_child(paths, confined_checks), 0);
}

[[maybe_unused]] int exec_attempt(const sandbox_result& result) {
  if (!result.seccomp) return 50;
  char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
  ::execv("/bin/true", argv);
  return 51;
}

TEST(sandbox_apply, running_a_program_kills_the_process) {
#ifdef MTLSD_TEST_SANITIZED
  GTEST_SKIP() << "sanitizer builds allow execve for their symbolizer";
#else
  const int outcome = in_confined_child({}, exec_attempt);
  if (outcome == 50) GTEST_SKIP() << "seccomp is not available here";
  EXPECT_EQ(outcome, 200 + SIGSYS);
#endif
}

int blocked_call(const sandbox_result& result) {
  if (!result.seccomp) return 50;
  // Refused as without the debug mode, and reported on stderr.
  if (::socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EPERM) return 52;
  return 0;
}

TEST(sandbox_apply, the_debug_mode_names_a_refused_call_and_refuses_it) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const int saved_stderr = ::dup(STDERR_FILENO);
  ::dup2(pipe_fds[1], STDERR_FILENO);
  ::close(pipe_fds[1]);
  ::setenv("MTLSD_SANDBOX_DEBUG", "1", 1);
  const int outcome = in_confined_child({}, blocked_call);
  ::unsetenv("MTLSD_SANDBOX_DEBUG");
  ::dup2(saved_stderr, STDERR_FILENO);
  ::close(saved_stderr);
  std::string text(4096, '\0');
  const ssize_t got = ::read(pipe_fds[0], text.data(), text.size());
  ::close(pipe_fds[0]);
  text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  if (outcome == 50) GTEST_SKIP() << "seccomp is not available here";
  EXPECT_EQ(outcome, 0);
  EXPECT_NE(text.find("sandbox_blocked syscall=" + std::to_string(SYS_socket)), std::string::npos) << text;
}

}  // namespace
}  // namespace mtlsd::platform
