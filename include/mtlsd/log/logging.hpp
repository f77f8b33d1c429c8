#pragma once
// Structured log lines. Every line is one event with key/value fields:
//
//   text: 2026-11-23T18:39:36.123Z info listening svc=partner-api addr=127.0.0.1:8443 tls=true
//   json: {"ts":"2026-11-23T18:39:36.123Z","level":"info","event":"listening","svc":"partner-api",...}
//
// Text values that contain spaces, quotes, '=', backslashes or non-printable
// bytes are double-quoted with C-style escapes, so a hostile certificate field
// can never forge a line. Logs go to stderr (systemd and containers collect it).
// Thread-safe: spdlog's stderr sink is the mt variant.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/config/config.hpp"

namespace mtlsd::log {

class record {
 public:
  explicit record(std::string_view event);

  record& add(std::string_view key, std::string_view value);
  record& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  record& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  record& add(std::string_view key, std::int64_t value);
  record& add(std::string_view key, std::uint64_t value);
  record& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
  record& add(std::string_view key, unsigned value) { return add(key, static_cast<std::uint64_t>(value)); }
  record& add(std::string_view key, bool value);
  record& add(std::string_view key, const std::vector<std::string>& values);

  std::string_view event() const { return event_; }
  // The message part: "event k=v ..." (text) or "\"event\":\"...\",\"k\":..." (json, no braces).
  std::string render(log_format format) const;

 private:
  struct field {
    std::string key;
    std::string value;     // already rendered for json when json_literal
    bool json_literal;     // numbers, booleans, arrays: not quoted in JSON
    std::string text;      // rendering for text logs
  };
  std::string event_;
  std::vector<field> fields_;
};

// `value` as a JSON string literal, quotes included, escaped exactly as in
// JSON log lines (controls, deceptive characters; invalid UTF-8 becomes
// U+FFFD, so the result is always valid JSON). For other JSON mtlsd writes.
std::string json_string(std::string_view value);

// Installs the process-wide logger (stderr). Safe to call again to change settings.
void setup(log_level level, log_format format);
bool enabled(log_level level);
void emit(log_level level, const record& r);

inline void info(const record& r) { emit(log_level::info, r); }
inline void warn(const record& r) { emit(log_level::warn, r); }
inline void error(const record& r) { emit(log_level::error, r); }
inline void debug(const record& r) { emit(log_level::debug, r); }

}  // namespace mtlsd::log
