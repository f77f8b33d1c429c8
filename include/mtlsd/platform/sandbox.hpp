#pragma once
// Self-confinement after start-up ([server] sandbox, docs/security.md):
// Landlock limits which files the process may open, a seccomp filter limits
// which system calls it may make. Owned by the platform module; the daemon
// (src/cli/daemon.cpp) decides when to apply it and which paths it needs.
// Both are one-way: nothing here can be undone or widened later, which is
// why a reload that needs a new path must be refused (sandbox_blocks()).

#include <filesystem>
#include <string>
#include <vector>

namespace mtlsd::platform {

// What the process may still touch on disk once confined. Each entry is a
// file or a directory; a directory covers everything beneath it.
struct sandbox_paths {
  std::vector<std::filesystem::path> read;    // opened for reading (files, directory listings)
  std::vector<std::filesystem::path> write;   // directories whose files are created, replaced, removed
  std::vector<std::filesystem::path> remove;  // directories where a file of ours is read and removed
};

// What the daemon's configuration asks of the file system.
struct sandbox_needs {
  std::filesystem::path config_file;
  std::vector<std::filesystem::path> named_files;  // proxy::named_files() plus fetched CRL cache files
  std::filesystem::path crl_cache_dir;             // empty: nothing fetched
  std::filesystem::path pid_file;                  // empty: none written
};

// The allowed set for `needs`: the directory of every named file, also
// through its symlinks (rotation replaces files by rename or swaps a
// symlink, so a rule on the old file's inode would not see the new one),
// plus what the libraries read on their own at run time (system CA store,
// name resolution, NSS and OpenSSL modules, /dev/urandom, /proc/self).
// Pure apart from resolving symlinks; paths that do not exist are kept (the
// Landlock step skips them).
sandbox_paths sandbox_paths_for(const sandbox_needs& needs);

// Whether `file` lies within one of `allowed` (lexically, after making
// both absolute and normal; also through its symlinks when it exists).
bool sandbox_covers(const std::vector<std::filesystem::path>& allowed, const std::filesystem::path& file);

// Files `needs` names that the running sandbox (built from `applied`) does
// not cover: a reload naming them cannot succeed before a restart.
std::vector<std::filesystem::path> sandbox_blocks(const sandbox_paths& applied, const sandbox_needs& needs);

struct sandbox_result {
  int landlock_abi = 0;     // 0: no Landlock applied
  bool seccomp = false;     // the filter is loaded for every thread
  std::size_t paths = 0;    // Landlock rules added
  std::vector<std::string> degraded;  // "landlock: ...", "seccomp: ..." for each part not applied
};

// Confines the calling process: no_new_privs, Landlock on the calling
// thread (and every thread it creates afterwards: call before starting
// worker threads), then the seccomp filter on all threads (TSYNC). A
// kernel or container without support for a part leaves that part out and
// says so in `degraded`; any other failure throws std::runtime_error.
sandbox_result apply_sandbox(const sandbox_paths& paths);

}  // namespace mtlsd::platform
