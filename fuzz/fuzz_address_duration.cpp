// accept/connect addresses and durations as a configuration file may spell
// them: arbitrary text must give a value or an error message, never a crash.
// An accepted value must print back to text that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mtlsd/config/address.hpp"
#include "mtlsd/config/duration.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (const auto address = mtlsd::parse_endpoint(text, error)) {
    std::string again_error;
    const auto again = mtlsd::parse_endpoint(address->to_string(), again_error);
    require(again.has_value() && *again == *address);
  } else {
    require(!error.empty());
  }
  error.clear();
  if (const auto d = mtlsd::parse_duration(text, error)) {
    std::string again_error;
    const auto again = mtlsd::parse_duration(mtlsd::format_duration(*d), again_error);
    require(again.has_value() && *again == *d);
  } else {
    require(!error.empty());
  }
  return 0;
}
