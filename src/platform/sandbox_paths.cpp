#include <cstdlib>
#include <system_error>

#include "mtlsd/platform/sandbox.hpp"

namespace mtlsd::platform {

namespace fs = std::filesystem;

namespace {

// What the libraries mtlsd links read by themselves after start-up. None of
// it is secret; all of it is needed by a run-time path that a test of the
// daemon's features reaches.
constexpr const char* system_read_paths[] = {
    // OpenSSL's default CA store (tls:// backends without a truststore):
    // its hash directory is consulted lazily during each verification, and
    // Debian's entries are symlinks into /usr/share/ca-certificates.
    "/etc/ssl", "/usr/lib/ssl", "/usr/share/ca-certificates", "/etc/pki", "/etc/ca-certificates",
    // Backend host names are resolved at run time (health checks, connects);
    // glibc reads these on every lookup or when they change.
    "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/gai.conf", "/etc/host.conf", "/etc/services",
    "/etc/protocols", "/etc/ld.so.cache",
    // NSS modules named in nsswitch.conf and OpenSSL providers (the legacy
    // provider for old PKCS#12 files) are loaded on first use, not at start.
    "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
    // OpenSSL falls back to the device when getrandom() is unavailable.
    "/dev/urandom", "/dev/random", "/dev/null",
    // Our own process (the sanitizers' leak check reads /proc/self/maps),
    // and the CPU count glibc and Asio read.
    "/proc/self", "/sys/devices/system/cpu",
    // Time zone data, should anything format local time.
    "/etc/localtime", "/usr/share/zoneinfo"};

fs::path absolute_normal(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) abs = p;
  return abs.lexically_normal();
}

// Resolves every symlink on the way, as the kernel will when the file is
// opened; the part that does not exist yet stays as written.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path real = fs::weakly_canonical(absolute_normal(p), ec);
  return ec ? absolute_normal(p) : real;
}

bool within(const fs::path& dir, const fs::path& file) {
  auto d = dir.begin();
  auto f = file.begin();
  for (; d != dir.end(); ++d, ++f) {
    if (d->empty()) continue;  // the trailing "" of "/etc/"
    if (f == file.end() || *d != *f) return false;
  }
  return true;
}

void add_unique(std::vector<fs::path>& list, fs::path p) {
  for (const auto& existing : list)
    if (existing == p) return;
  list.push_back(std::move(p));
}

// The directory holding `file`, as written and as reached through symlinks:
// a certificate replaced by rename or by swapping a symlink (Kubernetes'
// ..data, certbot's live/ -> archive/) is a new inode in that directory.
void add_directories_of(std::vector<fs::path>& list, const fs::path& file) {
  add_unique(list, absolute_normal(file).parent_path());
  // A named directory (a truststore of CA files) reached through a symlink:
  // that directory, not everything beside it.
  const fs::path real = resolved(file);
  std::error_code ec;
  add_unique(list, fs::is_directory(real, ec) && real != absolute_normal(file) ? real : real.parent_path());
}

}  // namespace

sandbox_paths sandbox_paths_for(const sandbox_needs& needs) {
  sandbox_paths out;
  if (!needs.config_file.empty()) add_directories_of(out.read, needs.config_file);
  for (const auto& file : needs.named_files) add_directories_of(out.read, file);
  for (const char* p : system_read_paths) {
    add_unique(out.read, p);
    const fs::path real = resolved(p);
    if (real == fs::path(p)) continue;
    // A symlinked directory (/lib -> usr/lib, /proc/self): where it leads.
    // A symlinked file (resolv.conf -> /run/systemd/resolve/stub-resolv.conf)
    // is replaced there by rename: its directory, not just the file.
    std::error_code ec;
    add_unique(out.read, fs::is_directory(real, ec) ? real : real.parent_path());
  }
  for (const char* variable : {"SSL_CERT_FILE", "SSL_CERT_DIR"})
    if (const char* value = std::getenv(variable); value != nullptr && *value == '/') add_unique(out.read, value);
  if (!needs.crl_cache_dir.empty()) add_unique(out.write, absolute_normal(needs.crl_cache_dir));
  if (!needs.pid_file.empty()) add_unique(out.remove, absolute_normal(needs.pid_file).parent_path());
  return out;
}

bool sandbox_covers(const std::vector<fs::path>& allowed, const fs::path& file) {
  // Landlock judges the file the kernel reaches, after symlinks; the path
  // as written matters only for how the rule was found.
  const fs::path target = resolved(file);
  for (const auto& entry : allowed)
    if (within(resolved(entry), target)) return true;
  return false;
}

std::vector<fs::path> sandbox_blocks(const sandbox_paths& applied, const sandbox_needs& needs) {
  std::vector<fs::path> readable = applied.read;
  readable.insert(readable.end(), applied.write.begin(), applied.write.end());
  std::vector<fs::path> blocked;
  if (!needs.config_file.empty() && !sandbox_covers(readable, needs.config_file))
    add_unique(blocked, needs.config_file);
  for (const auto& file : needs.named_files)
    if (!sandbox_covers(readable, file)) add_unique(blocked, file);
  if (!needs.crl_cache_dir.empty() && !sandbox_covers(applied.write, needs.crl_cache_dir))
    add_unique(blocked, needs.crl_cache_dir);
  return blocked;
}

}  // namespace mtlsd::platform
