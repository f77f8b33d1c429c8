#pragma once
// The one path from a config file to something runnable, shared by `run` and
// `check` (and later reload): load and validate the TOML, then load every
// certificate, key and truststore. Every error from both steps is collected.

#include <filesystem>
#include <memory>

#include "mtlsd/config/loader.hpp"
#include "mtlsd/proxy/runtime.hpp"

namespace mtlsd::cli {

struct validated_config {
  config cfg;
  std::unique_ptr<proxy::runtime> runtime;  // null when errors is not empty
  config_errors errors;
};

validated_config load_and_validate(const std::filesystem::path& file);

// Prints each error on its own line, then a count, to stderr.
void print_errors(const validated_config& v, const std::filesystem::path& file);

}  // namespace mtlsd::cli
