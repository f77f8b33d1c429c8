#pragma once

#include <string>
#include <vector>

#include "mtlsd/config/config.hpp"

namespace mtlsd {

// One problem in a configuration. Printed as
//   conf/mtlsd.toml:12:9: service[partner-api].verify_client: must be one of none, want, require (got "maybe")
struct config_error {
  source_position where;
  std::string key;  // full key path, e.g. "server.log_level", "service[partner-api].allow.sha256"
  std::string message;

  std::string to_string() const;
};

using config_errors = std::vector<config_error>;

}  // namespace mtlsd
