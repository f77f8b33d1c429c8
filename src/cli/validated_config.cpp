#include "cli/validated_config.hpp"

#include <algorithm>
#include <iostream>
#include <tuple>

namespace mtlsd::cli {

validated_config load_and_validate(const std::filesystem::path& file) {
  validated_config v;
  load_result loaded = load_config_file(file);
  v.errors = std::move(loaded.errors);
  v.cfg = std::move(loaded.cfg);

  // Files are checked even when the TOML had errors, so one run of
  // `mtlsd check` reports a mismatched key next to a bad enum.
  auto rt = proxy::build_runtime(v.cfg, v.errors);
  if (v.errors.empty()) v.runtime = std::move(rt);
  // File problems are found after the TOML ones; list all in file order.
  std::stable_sort(v.errors.begin(), v.errors.end(), [](const config_error& a, const config_error& b) {
    return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
  });
  return v;
}

void print_errors(const validated_config& v, const std::filesystem::path& file) {
  for (const auto& e : v.errors) std::cerr << e.to_string() << '\n';
  std::cerr << "mtlsd: " << v.errors.size() << (v.errors.size() == 1 ? " error" : " errors") << " in "
            << file.string() << "; nothing started\n";
}

}  // namespace mtlsd::cli
