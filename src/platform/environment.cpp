#include "platform/environment.hpp"

#include <cstdlib>

namespace mtlsd::platform::detail {

std::optional<std::string> take_env(const char* name) {
  const char* value = std::getenv(name);
  std::optional<std::string> out;
  if (value != nullptr) out = value;
  ::unsetenv(name);
  return out;
}

}  // namespace mtlsd::platform::detail
