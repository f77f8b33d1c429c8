#pragma once
// Owner: config module (private). Small string helpers shared by the config
// sources; not part of the public interface.

#include <string>
#include <string_view>

namespace mtlsd::config_detail {

// `text` in double quotes, with quotes, backslashes and control bytes escaped,
// so that a value echoed in an error message cannot break the line format.
std::string quote(std::string_view text);

std::string ascii_lower(std::string_view text);

// Levenshtein distance (insert, delete, substitute), for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace mtlsd::config_detail
