// Owner: config module (private helpers).
#include "config/toml_reader.hpp"

#include <algorithm>
#include <limits>

#include "config/text_util.hpp"

namespace mtlsd::config_detail {

source_position diagnostics::at(const toml::source_region& region) const {
  return {file_, static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

void diagnostics::report(source_position where, std::string key, std::string message) {
  errors_.push_back({std::move(where), std::move(key), std::move(message)});
}

config_errors diagnostics::take() {
  // Document order reads best; table iteration in toml++ is alphabetical.
  // Whole-file problems (line 0) go last.
  std::stable_sort(errors_.begin(), errors_.end(), [](const config_error& a, const config_error& b) {
    auto rank = [](const config_error& e) {
      return std::pair{e.where.line == 0 ? std::numeric_limits<int>::max() : e.where.line, e.where.column};
    };
    return rank(a) < rank(b);
  });
  return std::move(errors_);
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::optional<std::string> read_string(diagnostics& diag, const toml::node& node, const std::string& key,
                                       std::string_view type_hint) {
  if (const auto* value = node.as_string()) return value->get();
  std::string message = "expected a string, got " + std::string(type_name(node));
  if (!type_hint.empty()) message += " (" + std::string(type_hint) + ")";
  diag.report(diag.at(node), key, std::move(message));
  return std::nullopt;
}

std::optional<bool> read_bool(diagnostics& diag, const toml::node& node, const std::string& key) {
  if (const auto* value = node.as_boolean()) return value->get();
  diag.report(diag.at(node), key, "expected true or false, got " + std::string(type_name(node)));
  return std::nullopt;
}

std::optional<std::int64_t> read_integer(diagnostics& diag, const toml::node& node, const std::string& key,
                                         std::int64_t min, std::int64_t max) {
  const auto* value = node.as_integer();
  if (value == nullptr) {
    diag.report(diag.at(node), key, "expected an integer, got " + std::string(type_name(node)));
    return std::nullopt;
  }
  const std::int64_t v = value->get();
  if (v < min || v > max) {
    std::string message = max == std::numeric_limits<std::int64_t>::max() ? "must be at least " + std::to_string(min)
                                           : "must be between " + std::to_string(min) + " and " + std::to_string(max);
    diag.report(diag.at(node), key, message + " (got " + std::to_string(v) + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<duration> read_duration(diagnostics& diag, const toml::node& node, const std::string& key,
                                      bool zero_allowed) {
  auto text = read_string(diag, node, key, "durations are written like \"10s\"");
  if (!text) return std::nullopt;
  std::string error;
  auto value = parse_duration(*text, error);
  if (!value) {
    diag.report(diag.at(node), key, error);
    return std::nullopt;
  }
  if (!zero_allowed && value->count() == 0) {
    diag.report(diag.at(node), key, "must be greater than 0");
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<string_entry>> read_string_array(diagnostics& diag, const toml::node& node,
                                                           const std::string& key) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    diag.report(diag.at(node), key, "expected an array of strings, got " + std::string(type_name(node)));
    return std::nullopt;
  }
  std::vector<string_entry> entries;
  for (const toml::node& element : *array) {
    if (const auto* text = element.as_string()) {
      entries.push_back({text->get(), diag.at(element)});
    } else {
      diag.report(diag.at(element), key,
                  "expected a string, got " + std::string(type_name(element)));
    }
  }
  return entries;
}

std::string enum_choices_message(std::span<const std::string_view> names, std::string_view got) {
  std::string message = "must be one of ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) message += ", ";
    message += names[i];
  }
  return message + " (got " + quote(got) + ")";
}

std::string unknown_key_message(std::string_view key, std::span<const std::string_view> known,
                                std::initializer_list<key_home> elsewhere) {
  for (const key_home& home : elsewhere) {
    if (std::find(home.keys.begin(), home.keys.end(), key) != home.keys.end()) {
      return "unknown key; " + quote(key) + " belongs in " + std::string(home.where);
    }
  }
  std::string_view best;
  std::size_t best_distance = 3;
  for (std::string_view candidate : known) {
    const std::size_t d = edit_distance(key, candidate);
    // A distance as long as the candidate itself means no shared letter worth a hint.
    if (d < best_distance && d < candidate.size()) {
      best_distance = d;
      best = candidate;
    }
  }
  if (best.empty()) return "unknown key";
  return "unknown key; did you mean " + quote(best) + "?";
}

void report_unknown_key(diagnostics& diag, const toml::key& key, const toml::node& value,
                        const std::string& key_path, std::span<const std::string_view> known,
                        std::initializer_list<key_home> elsewhere) {
  const source_position where = key.source().begin.line > 0 ? diag.at(key.source()) : diag.at(value);
  diag.report(where, key_path, unknown_key_message(key.str(), known, elsewhere));
}

}  // namespace mtlsd::config_detail
