#pragma once
// A digest of what the configuration's files hold, to tell a real change
// from an event that changed nothing (a touch, an unrelated file in the same
// directory, the tail of a burst already reloaded).

#include <filesystem>
#include <string>
#include <vector>

namespace mtlsd::cli {

// SHA-256 over each path and its content (a directory: every regular file in
// it, by name). An unreadable or missing file contributes its error, so its
// reappearance is a change too.
std::string fingerprint(const std::vector<std::filesystem::path>& files);

}  // namespace mtlsd::cli
