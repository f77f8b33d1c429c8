// Owner: config module. Parsing and printing of config durations.
#include "mtlsd/config/duration.hpp"

#include <cstdint>

#include "config/text_util.hpp"

namespace mtlsd {
using config_detail::quote;

namespace {

constexpr std::string_view duration_syntax =
    "expected a whole number followed by one unit of ms, s, m, h or d (e.g. \"250ms\", \"10s\", \"5m\", \"1h\", \"30d\")";

// Generous for any timeout yet small enough that converting to nanoseconds and
// adding it to a steady_clock time point cannot overflow (int64 ns spans ~292 years).
constexpr std::int64_t max_milliseconds = std::int64_t{100000} * 3600 * 1000;  // 100000h

}  // namespace

std::optional<duration> parse_duration(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "empty duration: " + std::string(duration_syntax);
    return std::nullopt;
  }
  if (text.front() == '-') {
    error = "negative duration " + quote(text) + " is not allowed";
    return std::nullopt;
  }
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) {
    error = "invalid duration " + quote(text) + ": " + std::string(duration_syntax);
    return std::nullopt;
  }
  const std::string_view unit = text.substr(digits);
  std::int64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60 * 1000;
  } else if (unit == "h") {
    factor = 3600 * 1000;
  } else if (unit == "d") {
    factor = 24 * 3600 * 1000;
  } else {
    error = (unit.empty() ? "missing unit in duration " : "invalid duration ") + quote(text) + ": " +
            std::string(duration_syntax);
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const int d = text[i] - '0';
    if (value > (max_milliseconds - d) / 10) {
      error = "duration " + quote(text) + " is too large (at most 100000h)";
      return std::nullopt;
    }
    value = value * 10 + d;
  }
  if (value > max_milliseconds / factor) {
    error = "duration " + quote(text) + " is too large (at most 100000h)";
    return std::nullopt;
  }
  return duration(value * factor);
}

std::string format_duration(duration d) {
  const std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % (24 * 3600 * 1000) == 0) return std::to_string(ms / (24 * 3600 * 1000)) + "d";
  if (ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace mtlsd
