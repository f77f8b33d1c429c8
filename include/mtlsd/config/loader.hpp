#pragma once
// Parsing and validation of the TOML configuration. Every problem found is
// reported, never just the first: the loader keeps going after an error and
// returns a best-effort config alongside the full error list.

#include <filesystem>
#include <string_view>

#include "mtlsd/config/config.hpp"
#include "mtlsd/config/error.hpp"

namespace mtlsd {

struct load_result {
  config cfg;  // best effort; only to be used when errors is empty
  config_errors errors;
  bool ok() const { return errors.empty(); }
};

// Reads and validates `file`. Relative paths inside the file are resolved
// against the file's directory. Checks syntax, types, enum values, addresses,
// durations, unknown keys, required keys, duplicate names and addresses, TLS
// options on tcp:// listeners, and that every named file exists and is
// readable. Whether certificates parse and keys match is checked later, when
// TLS contexts are built (tls/context.hpp), with errors in the same form.
load_result load_config_file(const std::filesystem::path& file);

// As above, for text already in memory; `file` names it in messages and
// anchors relative paths.
load_result load_config_text(std::string_view text, const std::filesystem::path& file);

}  // namespace mtlsd
