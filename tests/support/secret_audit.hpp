#pragma once
// The suite-wide check that mtlsd never logs a secret. While the integration
// tests run (MTLSD_TEST_AUDIT_DIR set by CTest), every secret the tests write
// (private-key PEM lines, password and ticket-key files) and everything each
// mtlsd process printed are appended to files in that directory;
// tests/audit-secrets, run by CTest after the suite, fails if any secret
// shows up in any output. Without the variable nothing is recorded.
// Owned by the test-harness helper.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mtlsd::test {

// Records the secrets in a file the tests are writing: the lines of a
// private-key PEM block, and each line of a *.key or *.pass file.
void audit_written_file(const std::filesystem::path& path, std::string_view text);

// Records what a process printed when it is an mtlsd (argv names the binary).
void audit_process_output(const std::vector<std::string>& argv, std::string_view output);

}  // namespace mtlsd::test
