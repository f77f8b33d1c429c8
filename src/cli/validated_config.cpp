#include "cli/validated_config.hpp"

#include <iostream>
#include <set>

namespace mtlsd::cli {

validated_config load_and_validate(const std::filesystem::path& file) {
  validated_config v;
  load_result loaded = load_config_file(file);
  v.errors = std::move(loaded.errors);
  v.cfg = std::move(loaded.cfg);

  // Still load the files of services the loader found no fault with, so one
  // run of `mtlsd check` reports a bad key next to a bad enum elsewhere.
  std::set<std::string> faulty;
  for (const auto& e : v.errors) {
    if (e.key.rfind("service[", 0) == 0) faulty.insert(e.key.substr(0, e.key.find(']') + 1));
  }
  config sound = v.cfg;
  std::erase_if(sound.services, [&](const service_config& s) { return faulty.count(s.key_path_prefix) != 0; });
  auto rt = proxy::build_runtime(sound, v.errors);
  if (v.errors.empty()) v.runtime = std::move(rt);
  return v;
}

void print_errors(const validated_config& v, const std::filesystem::path& file) {
  for (const auto& e : v.errors) std::cerr << e.to_string() << '\n';
  std::cerr << "mtlsd: " << v.errors.size() << (v.errors.size() == 1 ? " error" : " errors") << " in "
            << file.string() << "; nothing started\n";
}

}  // namespace mtlsd::cli
