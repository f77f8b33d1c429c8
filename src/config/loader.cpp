// Owner: config module. Entry points: reading the file, the top-level tables
// and [server]; the services are in services.cpp.
#include "mtlsd/config/loader.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include "config/admin.hpp"
#include "config/files.hpp"
#include "config/text_util.hpp"
#include "config/service_fields.hpp"
#include "config/services.hpp"
#include "config/toml_reader.hpp"

namespace mtlsd {
namespace fs = std::filesystem;
using namespace config_detail;

namespace {

constexpr std::string_view top_level_keys[] = {"server", "admin", "defaults", "service"};

constexpr enum_name<log_level> log_level_names[] = {{"trace", log_level::trace},
                                                    {"debug", log_level::debug},
                                                    {"info", log_level::info},
                                                    {"warn", log_level::warn},
                                                    {"error", log_level::error}};

constexpr enum_name<log_format> log_format_names[] = {{"text", log_format::text}, {"json", log_format::json}};

const toml::table* expect_table(diagnostics& diag, const toml::node* node, const std::string& key) {
  if (node == nullptr) return nullptr;
  if (const auto* table = node->as_table()) return table;
  diag.report(diag.at(*node), key, "expected a table, got " + std::string(type_name(*node)));
  return nullptr;
}

// A user or group that does not exist is an error now, not at the moment
// the daemon would switch to it after binding.
void check_account(diagnostics& diag, const toml::node& node, const std::string& key, const std::string& name,
                   bool is_group) {
  if (name.empty()) {
    diag.report(diag.at(node), key, std::string("must not be empty; remove the key to keep the starting ") + (is_group ? "group" : "user"));
    return;
  }
  std::vector<char> buffer(16384);
  int rc = 0;
  bool found = false;
  if (is_group) {
    group entry{};
    group* result = nullptr;
    rc = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result);
    found = result != nullptr;
  } else {
    passwd entry{};
    passwd* result = nullptr;
    rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result);
    found = result != nullptr;
  }
  if (!found) {
    diag.report(diag.at(node), key,
                std::string("no such ") + (is_group ? "group " : "user ") + quote(name) +
                    (rc != 0 ? std::string(" (") + std::strerror(rc) + ")" : std::string()));
  }
}

server_config read_server(diagnostics& diag, const toml::table& table, const fs::path& base_dir) {
  server_config server;
  for (auto&& [toml_key, node] : table) {
    const std::string name(toml_key.str());
    const std::string key = "server." + name;
    if (name == "log_level") {
      if (auto v = read_enum(diag, node, key, log_level_names)) server.level = *v;
    } else if (name == "log_format") {
      if (auto v = read_enum(diag, node, key, log_format_names)) server.format = *v;
    } else if (name == "max_connections") {
      if (auto v = read_integer(diag, node, key, 1, std::numeric_limits<std::int64_t>::max())) {
        server.max_connections = static_cast<std::size_t>(*v);
      }
    } else if (name == "workers") {
      if (auto v = read_integer(diag, node, key, 0, 256)) server.workers = static_cast<std::size_t>(*v);
    } else if (name == "drain_timeout") {
      // "0s" is meaningful: stop at once without waiting for connections.
      if (auto v = read_duration(diag, node, key, true)) server.drain_timeout = *v;
    } else if (name == "expiry_warning") {
      if (auto v = read_duration(diag, node, key, true)) server.expiry_warning = *v;
    } else if (name == "watch") {
      if (auto v = read_bool(diag, node, key)) server.watch = *v;
    } else if (name == "reload_interval") {
      server.reload_interval = read_duration(diag, node, key, false);
    } else if (name == "pid_file") {
      if (auto v = read_path(diag, node, key, base_dir)) server.pid_file = v->resolved;
    } else if (name == "crl_cache_dir") {
      if (auto v = read_path(diag, node, key, base_dir)) server.crl_cache_dir = v->resolved;
    } else if (name == "crl_refresh_interval") {
      if (auto v = read_duration(diag, node, key, false)) server.crl_refresh_interval = *v;
    } else if (name == "core_dumps") {
      if (auto v = read_bool(diag, node, key)) server.core_dumps = *v;
    } else if (name == "sandbox") {
      if (auto v = read_bool(diag, node, key)) server.sandbox = *v;
    } else if (name == "user" || name == "group") {
      if (auto v = read_string(diag, node, key)) {
        check_account(diag, node, key, *v, name == "group");
        (name == "user" ? server.user : server.group) = *v;
      }
    } else {
      report_unknown_key(diag, toml_key, node, key, server_keys(),
                         {{service_keys(), "[defaults] or a [[service]] block"}});
    }
  }
  return server;
}

void check_default_files(diagnostics& diag, const service_fields& defaults) {
  if (defaults.cert) check_file(diag, *defaults.cert, file_kind::regular_file, "defaults.cert");
  if (defaults.key) check_file(diag, *defaults.key, file_kind::regular_file, "defaults.key");
  if (defaults.key_password_file) {
    check_file(diag, *defaults.key_password_file, file_kind::regular_file, "defaults.key_password_file");
  }
  if (defaults.truststore) check_file(diag, *defaults.truststore, file_kind::file_or_directory, "defaults.truststore");
  if (defaults.session_ticket_key_file) {
    check_file(diag, *defaults.session_ticket_key_file, file_kind::regular_file, "defaults.session_ticket_key_file");
  }
  for (const auto& [setting, key] : {std::pair{&defaults.keystore, "keystore"},
                                     std::pair{&defaults.keystore_password_file, "keystore_password_file"},
                                     std::pair{&defaults.truststore_password_file, "truststore_password_file"}}) {
    if (*setting) check_file(diag, **setting, file_kind::regular_file, std::string("defaults.") + key);
  }
  if (defaults.crl)
    for (const auto& path : *defaults.crl) check_file(diag, path, file_kind::regular_file, "defaults.crl");
  if (defaults.ocsp_staple_file)
    check_file(diag, *defaults.ocsp_staple_file, file_kind::regular_file, "defaults.ocsp_staple_file");
  if (defaults.upstream) check_upstream_files(diag, *defaults.upstream, "defaults.upstream");
}

}  // namespace

load_result load_config_text(std::string_view text, const fs::path& file) {
  load_result result;
  diagnostics diag(file.string());
  result.cfg.file = absolute_config_path(file);
  const fs::path base_dir = result.cfg.file.parent_path();

  toml::table root;
  try {
    root = toml::parse(text, std::string_view(file.string()));
  } catch (const toml::parse_error& error) {
    // toml++ stops at the first syntax error; nothing after it is known.
    diag.report(diag.at(error.source()), "", std::string(error.description()));
    result.errors = diag.take();
    return result;
  }

  for (auto&& [toml_key, node] : root) {
    const std::string name(toml_key.str());
    if (std::find(std::begin(top_level_keys), std::end(top_level_keys), name) == std::end(top_level_keys)) {
      report_unknown_key(diag, toml_key, node, name, top_level_keys,
                         {{server_keys(), "[server]"}, {service_keys(), "[defaults] or a [[service]] block"}});
    }
  }

  if (const auto* server = expect_table(diag, root.get("server"), "server")) {
    result.cfg.server = read_server(diag, *server, base_dir);
  }
  if (const auto* admin = expect_table(diag, root.get("admin"), "admin")) {
    result.cfg.admin = read_admin(diag, *admin, base_dir);
  }
  service_fields defaults;
  if (const auto* table = expect_table(diag, root.get("defaults"), "defaults")) {
    defaults = read_service_fields(diag, *table, "defaults", block_kind::defaults, base_dir);
    check_default_files(diag, defaults);
  }
  if (const toml::node* services = root.get("service")) {
    result.cfg.services = read_services(diag, *services, defaults, base_dir);
    for (auto& svc : result.cfg.services) svc.crl_cache_dir = result.cfg.server.crl_cache_dir;
  } else {
    diag.report(diag.whole_file(), "service", "no [[service]] defined");
  }

  result.errors = diag.take();
  return result;
}

load_result load_config_file(const fs::path& file) {
  std::string text;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  int error = fd < 0 ? errno : 0;
  if (fd >= 0) {
    char buffer[65536];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        text.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        error = errno;
        break;
      }
    }
    ::close(fd);
  }
  if (error != 0) {
    load_result result;
    result.cfg.file = absolute_config_path(file);
    config_error unreadable;
    unreadable.where.file = file.string();
    unreadable.message = std::string("cannot read config file: ") + std::strerror(error);
    result.errors.push_back(std::move(unreadable));
    return result;
  }
  return load_config_text(text, file);
}

}  // namespace mtlsd
