// The whole configuration loader (TOML syntax, then every validation rule)
// on arbitrary text, as `mtlsd check` and a reload would see a file. The
// loader promises every error with a place and a key, never an exception:
//   - a config that loads has at least one service, each with a backend;
//   - every error carries a message and names the key it is about — except a
//     TOML syntax error, which ends parsing (the only error then) and has a
//     line instead.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mtlsd/config/loader.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative paths in the input resolve below a directory that does not
  // exist, so file checks fail the same way on every machine.
  const mtlsd::load_result result = mtlsd::load_config_text(text, "/nonexistent-mtlsd-fuzz/mtlsd.toml");
  if (result.ok()) {
    require(!result.cfg.services.empty());
    for (const auto& service : result.cfg.services) require(!service.connect.empty());
  }
  for (const auto& error : result.errors) {
    require(!error.message.empty());
    require(!error.key.empty() || (result.errors.size() == 1 && error.where.line > 0));
  }
  return 0;
}
