#pragma once
// Owner: platform module (private). Reading the variables a service manager
// passes: each is removed once read, so no child process inherits it.

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace mtlsd::platform::detail {

// The variable's value (nullopt when unset), and unsets it.
std::optional<std::string> take_env(const char* name);

// The whole of `text` as a decimal number; false for anything else.
template <typename Integer>
bool parse_decimal(std::string_view text, Integer& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace mtlsd::platform::detail
