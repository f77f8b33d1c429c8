// Owned by the metrics module (private).
#include "metrics/text_format.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <system_error>

namespace mtlsd::metrics::detail {

namespace {

template <typename T>
std::string to_text(T value) {
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), result.ptr);
}

bool in_range(unsigned char byte, unsigned char low, unsigned char high) { return byte >= low && byte <= high; }

// Length of the well-formed UTF-8 sequence starting at `at` (Unicode table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[at + k]); };
  const std::size_t left = text.size() - at;
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  unsigned char second_low = 0x80;
  unsigned char second_high = 0xBF;
  std::size_t length = 0;
  if (in_range(lead, 0xC2, 0xDF)) {
    length = 2;
  } else if (lead == 0xE0) {
    length = 3;
    second_low = 0xA0;
  } else if (in_range(lead, 0xE1, 0xEC) || in_range(lead, 0xEE, 0xEF)) {
    length = 3;
  } else if (lead == 0xED) {
    length = 3;
    second_high = 0x9F;
  } else if (lead == 0xF0) {
    length = 4;
    second_low = 0x90;
  } else if (in_range(lead, 0xF1, 0xF3)) {
    length = 4;
  } else if (lead == 0xF4) {
    length = 4;
    second_high = 0x8F;
  } else {
    return 0;
  }
  if (left < length || !in_range(byte(1), second_low, second_high)) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (!in_range(byte(k), 0x80, 0xBF)) return 0;
  }
  return length;
}

}  // namespace

std::string format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Fixed notation of the largest double needs 309 integer digits.
  std::array<char, 400> buffer{};
  const auto result =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
  if (result.ec != std::errc{}) return to_text(value);
  return std::string(buffer.data(), result.ptr);
}

std::string format_integer(std::uint64_t value) { return to_text(value); }
std::string format_integer(std::int64_t value) { return to_text(value); }

std::string format_millis_as_seconds(std::int64_t milliseconds) {
  // Work on the magnitude as unsigned so INT64_MIN has one too.
  const bool negative = milliseconds < 0;
  const std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(milliseconds)
                                           : static_cast<std::uint64_t>(milliseconds);
  std::string out = negative ? "-" : "";
  out += to_text(magnitude / 1000);
  std::uint64_t fraction = magnitude % 1000;
  if (fraction != 0) {
    std::array<char, 3> digits{};
    for (std::size_t i = digits.size(); i-- > 0;) {
      digits[i] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    std::size_t keep = digits.size();
    while (digits[keep - 1] == '0') --keep;
    out += '.';
    out.append(digits.data(), keep);
  }
  return out;
}

void append_label_value(std::string& out, std::string_view value) {
  std::size_t at = 0;
  while (at < value.size()) {
    const char c = value[at];
    switch (c) {
      case '\\': out += "\\\\"; ++at; continue;
      case '"': out += "\\\""; ++at; continue;
      case '\n': out += "\\n"; ++at; continue;
      default: break;
    }
    const std::size_t length = utf8_sequence_length(value, at);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++at;
    } else {
      out.append(value.substr(at, length));
      at += length;
    }
  }
}

void append_help_text(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace mtlsd::metrics::detail
