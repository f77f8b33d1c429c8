#pragma once

#include <iosfwd>

#include "cli/validated_config.hpp"

namespace mtlsd::cli {

// The human summary `mtlsd check` prints for a valid configuration.
void print_summary(std::ostream& out, const validated_config& v);

}  // namespace mtlsd::cli
