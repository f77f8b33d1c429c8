#include "identity/text_escape.hpp"

#include <cstdint>

namespace mtlsd::detail {
namespace {

// Length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::uint32_t& code_point) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2, min = 0x80, code_point = lead & 0x1fu;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, min = 0x800, code_point = lead & 0x0fu;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, min = 0x10000, code_point = lead & 0x07u;
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3fu);
  }
  if (code_point < min || code_point > 0x10ffff) return 0;
  if (code_point >= 0xd800 && code_point <= 0xdfff) return 0;
  return length;
}

bool unsafe(std::uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;        // C0, DEL, C1
  if (cp == 0x2028 || cp == 0x2029) return true;                    // line/paragraph separator
  if (cp == 0x200e || cp == 0x200f || cp == 0x061c) return true;    // bidi marks
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return true;  // bidi overrides
  return false;
}

void escape_byte(std::string& out, unsigned char b, escape_style style) {
  static constexpr char upper[] = "0123456789ABCDEF";
  static constexpr char lower[] = "0123456789abcdef";
  if (style == escape_style::rfc2253) {
    out += '\\';
    out += upper[b >> 4];
    out += upper[b & 0x0f];
  } else if (b == 0) {
    out += "\\0";
  } else {
    out += "\\x";
    out += lower[b >> 4];
    out += lower[b & 0x0f];
  }
}

}  // namespace

std::string escape_text(std::string_view text, escape_style style) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = 0;
    const std::size_t length = utf8_sequence(text, i, cp);
    if (length == 0) {
      escape_byte(out, static_cast<unsigned char>(text[i]), style);
      ++i;
      continue;
    }
    if (unsafe(cp)) {
      for (std::size_t k = 0; k < length; ++k) {
        escape_byte(out, static_cast<unsigned char>(text[i + k]), style);
      }
    } else if (style == escape_style::quoted && (cp == '"' || cp == '\\')) {
      out += '\\';
      out += static_cast<char>(cp);
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

}  // namespace mtlsd::detail
