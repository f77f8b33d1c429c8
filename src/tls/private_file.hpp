#pragma once
// Owner: tls module (private). Files that hold a private key or a password
// (key, keystore, their password files, session ticket keys): who may read
// them, and reading them into memory that is wiped after use.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mtlsd/config/config.hpp"
#include "mtlsd/tls/secret.hpp"

namespace mtlsd::tls::detail {

// "" when only the file's owner can read or write it — or, for a file owned
// by root, also its group, read-only (0640; how Kubernetes mounts secrets
// with an fsGroup, and how a root-owned key is shared with the service's
// group). Otherwise what is wrong, e.g. "mode 0644 lets others read it".
// Symbolic links are followed: the target's mode is what protects the key.
std::string exposed_private_file(const std::filesystem::path& file);

struct private_setting {
  std::string key;  // the config key, relative to the service ("key", "upstream.key", ...)
  std::filesystem::path path;
};

// The accept side's secret files (cert/key or keystore, password files,
// session ticket keys) that the service names.
std::vector<private_setting> accept_side_secrets(const service_config& service);
// The same for [service.upstream] (keys prefixed "upstream.").
std::vector<private_setting> upstream_secrets(const service_config& service);

// Applies allow_insecure_key_permissions to each exposed file: a message for
// `refuse` (the start-up or reload fails at that key) or, when allowed, for
// `warn`. True when nothing was refused.
template <typename Refuse, typename Warn>
bool check_private_files(const service_config& service, const std::vector<private_setting>& files, Refuse refuse,
                         Warn warn) {
  bool ok = true;
  for (const auto& file : files) {
    const std::string problem = exposed_private_file(file.path);
    if (problem.empty()) continue;
    const std::string what = file.key + " " + file.path.string() + ": " + problem;
    if (service.allow_insecure_key_permissions) {
      warn(what + " (allowed by allow_insecure_key_permissions)");
    } else {
      refuse(file.key, what + "; a private key or password must be readable only by its owner: chmod 600 " +
                           file.path.string() + " (or set allow_insecure_key_permissions = true)");
      ok = false;
    }
  }
  return ok;
}

// The whole of a small secret file (a PEM private key), in wiped memory;
// `error` set and nothing returned when it cannot be read.
std::optional<secret_bytes> read_secret_file(const std::filesystem::path& file, std::string& error);

}  // namespace mtlsd::tls::detail
