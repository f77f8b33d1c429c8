// Owner: tls module. Permissions of secret files (see private_file.hpp).
#include "tls/private_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tls/service_stores.hpp"

namespace mtlsd::tls::detail {
namespace fs = std::filesystem;

namespace {

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Larger than any PEM key or chain; anything bigger is the wrong file.
constexpr off_t max_secret_file_size = 1 << 20;

}  // namespace

std::string exposed_private_file(const fs::path& file) {
  struct stat info {};
  // Unreadable files are reported by the loader that opens them.
  if (::stat(file.c_str(), &info) != 0) return {};
  const mode_t mode = info.st_mode;
  const std::string with_mode = "mode " + octal(mode);
  if (mode & S_IRWXO) return with_mode + " lets others " + ((mode & S_IROTH) ? "read it" : "use it");
  const mode_t group_allowed = info.st_uid == 0 ? S_IRGRP : 0;
  if ((mode & S_IRWXG) & ~group_allowed) {
    if (info.st_uid == 0) return with_mode + " lets its group change it";
    return with_mode + " lets its group " + ((mode & S_IRGRP) ? "read it" : "use it") +
           " (group read is accepted only for files owned by root)";
  }
  return {};
}

std::vector<private_setting> accept_side_secrets(const service_config& service) {
  std::vector<private_setting> out;
  const auto add = [&](const char* key, const fs::path& path) {
    if (!path.empty()) out.push_back({key, path});
  };
  if (service.keystore.empty()) {
    add("key", service.key);
    add("key_password_file", service.key_password_file);
  } else {
    add("keystore", service.keystore);
    add("keystore_password_file", service.keystore_password_file);
  }
  add("session_ticket_key_file", service.session_ticket_key_file);
  return out;
}

std::vector<private_setting> upstream_secrets(const service_config& service) {
  std::vector<private_setting> out;
  const auto& up = service.upstream;
  const auto add = [&](const char* key, const fs::path& path) {
    if (!path.empty()) out.push_back({key, path});
  };
  if (up.keystore.empty()) {
    add("key", up.key);
    add("key_password_file", up.key_password_file);
  } else {
    add("keystore", up.keystore);
    add("keystore_password_file", up.keystore_password_file);
  }
  return out;
}

std::optional<secret_bytes> read_secret_file(const fs::path& file, std::string& error) {
  return read_small_file(file, max_secret_file_size, error);
}

}  // namespace mtlsd::tls::detail
