// Log records are read by people and parsed by machines, and their values
// include certificate fields chosen by whoever connects: rendering must keep
// one event on one line and every value unambiguous in both formats.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mtlsd/log/logging.hpp"

namespace mtlsd::log {
namespace {

TEST(log_record, text_plain_values_stand_bare) {
  const auto text = record("access").add("svc", "demo").add("bytes", std::uint64_t{42}).add("tls", true).render(log_format::text);
  EXPECT_EQ(text, "access svc=demo bytes=42 tls=true");
}

TEST(log_record, text_values_with_spaces_quotes_or_equals_are_quoted_and_escaped) {
  const auto text = record("x")
                        .add("subject", "CN=a b")
                        .add("q", "say \"hi\"")
                        .add("path", "a\\b")
                        .add("empty", "")
                        .render(log_format::text);
  EXPECT_EQ(text, R"(x subject="CN=a b" q="say \"hi\"" path="a\\b" empty="")");
}

TEST(log_record, a_hostile_value_cannot_start_a_new_line_or_send_terminal_codes) {
  const std::string hostile = std::string("evil\ninfo access svc=forged\r\x1b[2J") + '\0' + "x";
  const auto text = record("handshake_failed").add("detail", hostile).render(log_format::text);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find('\0'), std::string::npos);
  EXPECT_EQ(text, R"(handshake_failed detail="evil\ninfo access svc=forged\r\x1b[2J\x00x")");
}

TEST(log_record, valid_utf8_names_stay_readable_in_both_formats) {
  EXPECT_EQ(record("x").add("cn", "caf\xc3\xa9").render(log_format::text), "x cn=\"caf\xc3\xa9\"");
  EXPECT_EQ(record("x").add("cn", "caf\xc3\xa9").render(log_format::json), "\"event\":\"x\",\"cn\":\"caf\xc3\xa9\"");
}

TEST(log_record, bytes_that_are_not_utf8_are_escaped_text_hex_json_replacement) {
  const std::string bad = "a\xff\xc3(b";  // a stray byte, then a truncated sequence
  EXPECT_EQ(record("x").add("v", bad).render(log_format::text), R"(x v="a\xff\xc3(b")");
  EXPECT_EQ(record("x").add("v", bad).render(log_format::json), R"("event":"x","v":"a\ufffd\ufffd(b")");
}

TEST(log_record, bidirectional_overrides_and_c1_controls_are_escaped) {
  // U+202E RIGHT-TO-LEFT OVERRIDE could make "CN=evil" display as something else.
  const std::string rlo = "CN=\xe2\x80\xaelive";
  EXPECT_EQ(record("x").add("s", rlo).render(log_format::text), R"(x s="CN=\xe2\x80\xaelive")");
  EXPECT_EQ(record("x").add("s", rlo).render(log_format::json), R"("event":"x","s":"CN=\u202elive")");
  EXPECT_EQ(record("x").add("s", "\xc2\x9b").render(log_format::json), R"("event":"x","s":"\u009b")");
}

TEST(log_record, json_quotes_strings_and_leaves_numbers_and_booleans_bare) {
  const auto json = record("access")
                        .add("svc", "demo")
                        .add("bytes", std::uint64_t{7})
                        .add("delta", std::int64_t{-3})
                        .add("tls", false)
                        .render(log_format::json);
  EXPECT_EQ(json, R"("event":"access","svc":"demo","bytes":7,"delta":-3,"tls":false)");
}

TEST(log_record, json_escapes_control_characters_as_unicode_escapes) {
  const auto json = record("x").add("v", std::string("a\"b\\c\n\x01")).render(log_format::json);
  EXPECT_EQ(json, R"("event":"x","v":"a\"b\\c\n\u0001")");
}

TEST(log_record, lists_are_comma_joined_in_text_and_arrays_in_json) {
  const std::vector<std::string> sans{"dns:a.example", "uri:spiffe://x/y"};
  EXPECT_EQ(record("x").add("sans", sans).render(log_format::text), "x sans=dns:a.example,uri:spiffe://x/y");
  EXPECT_EQ(record("x").add("sans", sans).render(log_format::json),
            R"("event":"x","sans":["dns:a.example","uri:spiffe://x/y"])");
  EXPECT_EQ(record("x").add("sans", std::vector<std::string>{}).render(log_format::json), R"("event":"x","sans":[])");
}

TEST(log_record, a_list_element_with_a_space_quotes_the_whole_text_value) {
  EXPECT_EQ(record("x").add("sans", std::vector<std::string>{"dns:a", "email:a b@x"}).render(log_format::text),
            R"(x sans="dns:a,email:a b@x")");
}

}  // namespace
}  // namespace mtlsd::log
