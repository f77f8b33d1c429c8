#pragma once
// Durations as written in the config: "250ms", "10s", "5m", "1h".

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mtlsd {

using duration = std::chrono::milliseconds;

// Accepts a non-negative integer followed by exactly one unit of ms, s, m or h.
// On failure returns nullopt and sets `error` to a message fit for a user.
std::optional<duration> parse_duration(std::string_view text, std::string& error);

// The shortest exact spelling of `d` in the config syntax ("1500ms", "30s", "5m").
std::string format_duration(duration d);

}  // namespace mtlsd
