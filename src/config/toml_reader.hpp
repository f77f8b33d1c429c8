#pragma once
// Owner: config module (private). Typed reads of toml++ nodes that report
// problems instead of throwing, so the loader can keep going and list every
// error in one run.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "mtlsd/config/config.hpp"
#include "mtlsd/config/duration.hpp"
#include "mtlsd/config/error.hpp"

namespace mtlsd::config_detail {

// Collects errors, all located in one file (named as the user gave it).
class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}

  source_position at(const toml::source_region& region) const;
  source_position at(const toml::node& node) const { return at(node.source()); }
  source_position whole_file() const { return {file_, 0, 0}; }

  void report(source_position where, std::string key, std::string message);
  config_errors take();

 private:
  std::string file_;
  config_errors errors_;
};

// "string", "integer", "float", "boolean", "table", "array", "date", "time", "date-time".
std::string_view type_name(const toml::node& node);

// Each read_* reports a mismatch at the node under `key` and returns nullopt.
std::optional<std::string> read_string(diagnostics& diag, const toml::node& node, const std::string& key,
                                       std::string_view type_hint = {});
std::optional<std::int64_t> read_integer(diagnostics& diag, const toml::node& node, const std::string& key,
                                         std::int64_t min, std::int64_t max);
std::optional<bool> read_bool(diagnostics& diag, const toml::node& node, const std::string& key);
std::optional<duration> read_duration(diagnostics& diag, const toml::node& node, const std::string& key,
                                      bool zero_allowed);

struct string_entry {
  std::string value;
  source_position where;
};
// An array whose elements are all strings; elements of another type are
// reported one by one (at the element) and left out.
std::optional<std::vector<string_entry>> read_string_array(diagnostics& diag, const toml::node& node,
                                                           const std::string& key);

template <class E>
struct enum_name {
  std::string_view name;
  E value;
};

std::string enum_choices_message(std::span<const std::string_view> names, std::string_view got);

template <class E, std::size_t N>
std::optional<E> read_enum(diagnostics& diag, const toml::node& node, const std::string& key,
                           const enum_name<E> (&choices)[N]) {
  auto text = read_string(diag, node, key);
  if (!text) return std::nullopt;
  std::vector<std::string_view> names;
  for (const auto& choice : choices) {
    if (choice.name == *text) return choice.value;
    names.push_back(choice.name);
  }
  diag.report(diag.at(node), key, enum_choices_message(names, *text));
  return std::nullopt;
}

// Keys that are valid elsewhere, for a hint like `"log_level" belongs in [server]`.
struct key_home {
  std::span<const std::string_view> keys;
  std::string_view where;
};

// "unknown key", plus a hint: where the key belongs when it is valid in
// another table, else the closest known key within edit distance 2.
std::string unknown_key_message(std::string_view key, std::span<const std::string_view> known,
                                std::initializer_list<key_home> elsewhere = {});

// Reports an unknown key at the key itself (not its value).
void report_unknown_key(diagnostics& diag, const toml::key& key, const toml::node& value,
                        const std::string& key_path, std::span<const std::string_view> known,
                        std::initializer_list<key_home> elsewhere = {});

}  // namespace mtlsd::config_detail
