#pragma once
// Owner: config module (private). Validation and normalisation of
// [service.allow] / [defaults.allow] tables.

#include <map>
#include <optional>
#include <string>

#include "config/toml_reader.hpp"
#include "mtlsd/config/config.hpp"

namespace mtlsd::config_detail {

// `key` is the table's key path ("service[partner-api].allow"). Records the
// table's position under "allow" and each field's under "allow.<field>" in
// `positions`. Invalid entries are reported and left out; the result is
// nullopt only when the node is not a table.
std::optional<allow_rules> read_allow_rules(diagnostics& diag, const toml::node& node, const std::string& key,
                                            std::map<std::string, source_position>& positions);

}  // namespace mtlsd::config_detail
