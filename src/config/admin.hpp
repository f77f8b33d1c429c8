#pragma once
// Owner: config module (private). The [admin] table: where the operations
// endpoint listens and, optionally, the TLS it speaks.

#include <filesystem>

#include "config/toml_reader.hpp"
#include "mtlsd/config/config.hpp"

namespace mtlsd::config_detail {

admin_config read_admin(diagnostics& diag, const toml::table& table, const std::filesystem::path& base_dir);

}  // namespace mtlsd::config_detail
