#pragma once
// Owner: config module (private). Paths named in the config: resolution
// against the config file's directory and the exists-and-readable check.
// Contents are not parsed here; the TLS module loads certificates and keys.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/toml_reader.hpp"

namespace mtlsd::config_detail {

struct path_setting {
  std::string written;              // as in the file, for messages
  std::filesystem::path resolved;   // absolute, lexically normal
  source_position where;
};

enum class file_kind { regular_file, file_or_directory };

// The config file's own absolute, lexically normal path ("" → the working directory).
std::filesystem::path absolute_config_path(const std::filesystem::path& file);

// A string value naming a file; reports type errors and empty strings.
std::optional<path_setting> read_path(diagnostics& diag, const toml::node& node, const std::string& key,
                                      const std::filesystem::path& base_dir);

// A path, or an array of paths (each element positioned on its own); an
// empty array is a valid, empty list.
std::optional<std::vector<path_setting>> read_path_list(diagnostics& diag, const toml::node& node,
                                                        const std::string& key, const std::filesystem::path& base_dir);

// Reports a missing, unreadable or wrong-kind file; true when it is usable.
bool check_file(diagnostics& diag, const path_setting& path, file_kind kind, const std::string& key);

}  // namespace mtlsd::config_detail
