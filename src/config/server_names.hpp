#pragma once
// Owner: config module (private). `server_names` (SNI routing): reading the
// names, and the rules for services that share one accept address.

#include <optional>
#include <string>
#include <vector>

#include "config/toml_reader.hpp"
#include "mtlsd/config/config.hpp"

namespace mtlsd::config_detail {

// Lowercased names; "*.x" wildcards allowed as the whole leftmost label. Every
// invalid entry is reported at its element.
std::optional<std::vector<std::string>> read_server_names(diagnostics& diag, const toml::node& node,
                                                          const std::string& key);

// Services whose accept addresses overlap may share one listener only when
// they write the same address, all speak TLS, at most one has no
// server_names (the default), no name is claimed twice, and the settings that
// belong to the listening socket rather than to a service agree. Anything
// else is reported at the later service's key.
void check_shared_addresses(diagnostics& diag, const std::vector<service_config>& services,
                            const std::vector<bool>& accept_known);

}  // namespace mtlsd::config_detail
