#pragma once
// Owned by the metrics module (private): the lexical pieces of the Prometheus
// text exposition format 0.0.4 — numbers a Go ParseFloat accepts and escaped
// label values — kept apart from which families exposition.cpp writes.

#include <cstdint>
#include <string>
#include <string_view>

namespace mtlsd::metrics::detail {

// Plain decimal, shortest form that round-trips ("0.0005", "1", "2.5"), never
// exponent notation, so bucket `le` values read the same as other exporters'.
// Locale-independent (std::to_chars). Non-finite values: "+Inf", "-Inf", "NaN".
std::string format_double(double value);

std::string format_integer(std::uint64_t value);
std::string format_integer(std::int64_t value);

// Milliseconds as seconds with exactly the precision they carry: 1712000000123
// -> "1712000000.123", 5000 -> "5". Integer arithmetic, no rounding.
std::string format_millis_as_seconds(std::int64_t milliseconds);

// Appends `value` escaped for use between the quotes of a label value:
// backslash, double quote and newline escaped as the format requires, and any
// byte sequence that is not valid UTF-8 replaced by U+FFFD — Prometheus rejects
// the whole scrape on one invalid label value, and a certificate subject is
// attacker-influenced text.
void append_label_value(std::string& out, std::string_view value);

// Appends HELP text: backslash and newline escaped.
void append_help_text(std::string& out, std::string_view text);

}  // namespace mtlsd::metrics::detail
