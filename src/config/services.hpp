#pragma once
// Owner: config module (private). The [[service]] array: each block merged
// with [defaults], then checks across services (names, addresses).

#include <filesystem>
#include <vector>

#include "config/service_fields.hpp"
#include "config/toml_reader.hpp"
#include "mtlsd/config/config.hpp"

namespace mtlsd::config_detail {

// `defaults` has already been read (and its files checked); `node` is the
// value of the top-level "service" key.
std::vector<service_config> read_services(diagnostics& diag, const toml::node& node, const service_fields& defaults,
                                          const std::filesystem::path& base_dir);

}  // namespace mtlsd::config_detail
