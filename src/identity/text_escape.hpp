#pragma once
// Internal to the identity module: making certificate-supplied bytes safe to
// put in a log line. Certificates are attacker-controlled text, so nothing
// that could move a terminal cursor, end a line or reorder what a reader sees
// may pass through raw.

#include <string>
#include <string_view>

namespace mtlsd::detail {

enum class escape_style {
  rfc2253,  // offending bytes become "\XX" (RFC 2253 hexpair); nothing else touched
  quoted,   // for a value inside "...": also \" and \\; NUL as \0, other bytes as \xNN
};

// Valid UTF-8 of printable code points passes through; C0/C1 controls, DEL,
// line/paragraph separators, bidi controls and bytes that are not valid UTF-8
// are escaped byte by byte.
std::string escape_text(std::string_view text, escape_style style);

}  // namespace mtlsd::detail
