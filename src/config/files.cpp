// Owner: config module (private helpers).
#include "config/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace mtlsd::config_detail {
namespace fs = std::filesystem;

namespace {

std::string written_and_resolved(const path_setting& path) {
  if (fs::path(path.written) == path.resolved) return path.written;
  return path.written + " (resolved to " + path.resolved.string() + ")";
}

}  // namespace

fs::path absolute_config_path(const fs::path& file) {
  std::error_code ec;
  fs::path absolute = file.empty() ? fs::current_path(ec) / "" : fs::absolute(file, ec);
  if (ec) absolute = file;
  return absolute.lexically_normal();
}

std::optional<path_setting> read_path(diagnostics& diag, const toml::node& node, const std::string& key,
                                      const fs::path& base_dir) {
  auto text = read_string(diag, node, key);
  if (!text) return std::nullopt;
  if (text->empty()) {
    diag.report(diag.at(node), key, "empty path");
    return std::nullopt;
  }
  fs::path path(*text);
  if (path.is_relative()) path = base_dir / path;
  return path_setting{*text, path.lexically_normal(), diag.at(node)};
}

std::optional<std::vector<path_setting>> read_path_list(diagnostics& diag, const toml::node& node,
                                                        const std::string& key, const fs::path& base_dir) {
  if (node.is_string()) {
    auto one = read_path(diag, node, key, base_dir);
    if (!one) return std::nullopt;
    return std::vector<path_setting>{std::move(*one)};
  }
  const auto* array = node.as_array();
  if (array == nullptr) {
    diag.report(diag.at(node), key, "expected a path or an array of paths, got " + std::string(type_name(node)));
    return std::nullopt;
  }
  std::vector<path_setting> paths;
  for (const toml::node& element : *array) {
    if (auto path = read_path(diag, element, key, base_dir)) paths.push_back(std::move(*path));
  }
  return paths;
}

bool check_file(diagnostics& diag, const path_setting& path, file_kind kind, const std::string& key) {
  std::error_code ec;
  const fs::file_status status = fs::status(path.resolved, ec);
  if (status.type() == fs::file_type::not_found) {
    diag.report(path.where, key, "file not found: " + written_and_resolved(path));
    return false;
  }
  if (ec) {
    diag.report(path.where, key, "cannot read " + written_and_resolved(path) + ": " + ec.message());
    return false;
  }
  const bool is_directory = status.type() == fs::file_type::directory;
  if (kind == file_kind::regular_file && status.type() != fs::file_type::regular) {
    diag.report(path.where, key,
                std::string(is_directory ? "expected a file, found a directory: " : "not a regular file: ") +
                    written_and_resolved(path));
    return false;
  }
  if (kind == file_kind::file_or_directory && status.type() != fs::file_type::regular && !is_directory) {
    diag.report(path.where, key, "not a regular file or directory: " + written_and_resolved(path));
    return false;
  }
  // Permission bits do not tell the whole story (ACLs, root, read-only
  // mounts); opening is the only honest test.
  const int fd = ::open(path.resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | (is_directory ? O_DIRECTORY : 0));
  if (fd < 0) {
    const int error = errno;
    diag.report(path.where, key, "cannot read " + written_and_resolved(path) + ": " + std::strerror(error));
    return false;
  }
  ::close(fd);
  return true;
}

}  // namespace mtlsd::config_detail
