#include "mtlsd/log/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>

namespace mtlsd::log {
namespace {

std::atomic<log_format> current_format{log_format::text};

// Length of the valid UTF-8 sequence at the start of `v` and its code point,
// or 0 when the bytes there are not valid UTF-8 (overlong forms, surrogates
// and values above U+10FFFF included).
std::size_t utf8_sequence(std::string_view v, char32_t& code_point) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(v[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  char32_t minimum = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code_point = lead & 0x1f, minimum = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, code_point = lead & 0x0f, minimum = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (v.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i) & 0x3f);
  }
  if (code_point < minimum || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) return 0;
  return length;
}

// Characters that are valid but would let a value disguise the line: C1
// controls, line and paragraph separators, and bidirectional overrides.
bool deceptive(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069);
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
  }
  return false;
}

// Escapes for both renderings: quotes, backslashes, controls and deceptive
// characters, so certificate fields cannot inject lines or terminal codes.
// Valid UTF-8 text otherwise passes through, so names stay readable. Bytes
// that are not UTF-8 become \xNN (text) or U+FFFD (JSON must be UTF-8).
void append_escaped(std::string& out, std::string_view v, bool json) {
  static constexpr char hex[] = "0123456789abcdef";
  const auto escape_byte = [&](unsigned char c) {
    out += json ? "\\u00" : "\\x";
    out += hex[c >> 4];
    out += hex[c & 0xf];
  };
  for (std::size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7f)
            escape_byte(c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    char32_t code_point = 0;
    const std::size_t length = utf8_sequence(v.substr(i), code_point);
    if (length == 0) {
      if (json)
        out += "\\ufffd";
      else
        escape_byte(c);
      ++i;
    } else if (deceptive(code_point)) {
      if (json) {
        out += "\\u";  // every deceptive code point fits in four hex digits
        for (int shift = 12; shift >= 0; shift -= 4) out += hex[(code_point >> shift) & 0xf];
      } else {
        for (std::size_t k = 0; k < length; ++k) escape_byte(static_cast<unsigned char>(v[i + k]));
      }
      i += length;
    } else {
      out.append(v.substr(i, length));
      i += length;
    }
  }
}

std::string quoted(std::string_view v, bool json) {
  std::string out = "\"";
  append_escaped(out, v, json);
  out += '"';
  return out;
}

template <typename Int>
std::string integer_text(Int value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  return std::string(buf, end);
}

spdlog::level::level_enum to_spdlog(log_level level) {
  switch (level) {
    case log_level::trace: return spdlog::level::trace;
    case log_level::debug: return spdlog::level::debug;
    case log_level::info: return spdlog::level::info;
    case log_level::warn: return spdlog::level::warn;
    case log_level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

std::string json_string(std::string_view value) { return quoted(value, true); }

record::record(std::string_view event) : event_(event) {}

record& record::add(std::string_view key, std::string_view value) {
  fields_.push_back({std::string(key), quoted(value, true), true,
                     needs_quotes(value) ? quoted(value, false) : std::string(value)});
  return *this;
}

record& record::add(std::string_view key, std::int64_t value) {
  auto text = integer_text(value);
  fields_.push_back({std::string(key), text, true, text});
  return *this;
}

record& record::add(std::string_view key, std::uint64_t value) {
  auto text = integer_text(value);
  fields_.push_back({std::string(key), text, true, text});
  return *this;
}

record& record::add(std::string_view key, bool value) {
  std::string text = value ? "true" : "false";
  fields_.push_back({std::string(key), text, true, text});
  return *this;
}

record& record::add(std::string_view key, const std::vector<std::string>& values) {
  std::string json = "[";
  std::string joined;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) {
      json += ',';
      joined += ',';
    }
    json += quoted(values[i], true);
    joined += values[i];
  }
  json += ']';
  fields_.push_back({std::string(key), json, true,
                     needs_quotes(joined) ? quoted(joined, false) : joined});
  return *this;
}

std::string record::render(log_format format) const {
  std::string out;
  if (format == log_format::json) {
    out = "\"event\":" + quoted(event_, true);
    for (const auto& f : fields_) {
      out += ',';
      out += quoted(f.key, true);
      out += ':';
      out += f.value;
    }
  } else {
    out = event_;
    for (const auto& f : fields_) {
      out += ' ';
      out += f.key;
      out += '=';
      out += f.text;
    }
  }
  return out;
}

void setup(log_level level, log_format format) {
  auto logger = spdlog::get("mtlsd");
  if (!logger) {
    logger = spdlog::stderr_logger_mt("mtlsd");
    spdlog::set_default_logger(logger);
  }
  current_format.store(format);
  logger->set_level(to_spdlog(level));
  const char* pattern = format == log_format::json
                            ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ",%v})"
                            : "%Y-%m-%dT%H:%M:%S.%eZ %v";
  logger->set_pattern(pattern, spdlog::pattern_time_type::utc);
  // Every line matters to whoever tails the log; stderr is unbuffered anyway.
  logger->flush_on(spdlog::level::trace);
}

bool enabled(log_level level) { return spdlog::default_logger_raw()->should_log(to_spdlog(level)); }

void emit(log_level level, const record& r) {
  auto* logger = spdlog::default_logger_raw();
  const auto lvl = to_spdlog(level);
  if (!logger->should_log(lvl)) return;
  // Our own level words (spdlog says "warning"): the same as log_level in the config.
  const auto format = current_format.load();
  const std::string_view word = to_string(level);
  if (format == log_format::json)
    logger->log(lvl, "\"level\":\"{}\",{}", word, r.render(format));
  else
    logger->log(lvl, "{} {}", word, r.render(format));
}

}  // namespace mtlsd::log
