// Owner: config module tests. Duration syntax: "250ms", "10s", "5m", "1h".
#include <gtest/gtest.h>

#include "mtlsd/config/duration.hpp"

namespace mtlsd {
namespace {

using namespace std::chrono_literals;

std::optional<duration> parse(std::string_view text) {
  std::string error;
  return parse_duration(text, error);
}

std::string error_of(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_duration(text, error).has_value()) << text;
  return error;
}

TEST(parse_duration, accepts_each_unit) {
  EXPECT_EQ(parse("250ms"), duration(250ms));
  EXPECT_EQ(parse("10s"), duration(10s));
  EXPECT_EQ(parse("5m"), duration(5min));
  EXPECT_EQ(parse("1h"), duration(1h));
  EXPECT_EQ(parse("30d"), duration(720h));
  EXPECT_EQ(parse("0s"), duration(0ms));
  EXPECT_EQ(parse("0010s"), duration(10s));
}

TEST(parse_duration, accepts_the_largest_value) {
  EXPECT_EQ(parse("100000h"), duration(100000h));
  EXPECT_EQ(parse("360000000000ms"), duration(100000h));
}

TEST(parse_duration, rejects_empty) {
  EXPECT_NE(error_of("").find("empty duration"), std::string::npos);
}

TEST(parse_duration, rejects_negative) {
  EXPECT_EQ(error_of("-5s"), "negative duration \"-5s\" is not allowed");
}

TEST(parse_duration, rejects_missing_unit) {
  const std::string error = error_of("10");
  EXPECT_NE(error.find("missing unit in duration \"10\""), std::string::npos) << error;
  EXPECT_NE(error.find("ms, s, m, h or d"), std::string::npos) << error;
}

TEST(parse_duration, rejects_malformed_spellings) {
  for (std::string_view text : {"1.5s", "10 s", " 10s", "10s ", "10sec", "10S", "s", "ms", "1h30m", "+5s", "5D",
                                "0x10s", "10s\n"}) {
    const std::string error = error_of(text);
    EXPECT_NE(error.find("expected a whole number followed by one unit"), std::string::npos) << text << ": " << error;
  }
}

TEST(parse_duration, rejects_overflow) {
  EXPECT_EQ(error_of("100001h"), "duration \"100001h\" is too large (at most 100000h)");
  EXPECT_EQ(error_of("360000000001ms"), "duration \"360000000001ms\" is too large (at most 100000h)");
  EXPECT_EQ(error_of("99999999999999999999999999s"),
            "duration \"99999999999999999999999999s\" is too large (at most 100000h)");
}

TEST(parse_duration, escapes_control_characters_in_messages) {
  EXPECT_EQ(error_of("-1\ns"), "negative duration \"-1\\x0as\" is not allowed");
}

TEST(format_duration, picks_the_largest_exact_unit) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(5min), "5m");
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(61min), "61m");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(25h), "25h");
}

TEST(format_duration, round_trips_through_parse) {
  for (duration d : {duration(1ms), duration(999ms), duration(1s), duration(59s), duration(61s), duration(3h),
                     duration(100000h)}) {
    EXPECT_EQ(parse(format_duration(d)), d) << format_duration(d);
  }
}

}  // namespace
}  // namespace mtlsd
