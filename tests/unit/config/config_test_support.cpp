// Owner: config module tests.
#include "config_test_support.hpp"

#include <stdlib.h>

#include <fstream>
#include <stdexcept>
#include <vector>

namespace mtlsd::test {
namespace fs = std::filesystem;

std::string toml_text(std::string_view raw) {
  if (!raw.empty() && raw.front() == '\n') raw.remove_prefix(1);
  return std::string(raw);
}

scratch_dir::scratch_dir() {
  std::string pattern = (fs::temp_directory_path() / "mtlsd-config-test-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = fs::path(buffer.data());
}

scratch_dir::~scratch_dir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path scratch_dir::write(const std::string& relative, const std::string& content) const {
  const fs::path target = path_ / relative;
  fs::create_directories(target.parent_path());
  std::ofstream out(target, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + target.string());
  return target;
}

std::string describe(const config_errors& errors) {
  std::string out;
  for (const config_error& e : errors) out += "  " + e.to_string() + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

::testing::AssertionResult has_error(const load_result& result, int line, int column, std::string_view key,
                                     std::string_view message) {
  int matches = 0;
  for (const config_error& e : result.errors) {
    if (e.where.line == line && e.where.column == column && e.key == key &&
        e.message.find(message) != std::string::npos) {
      ++matches;
    }
  }
  if (matches == 1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected exactly one error " << line << ":" << column << ": " << key
                                       << ": ...\"" << message << "\"... but found " << matches << " in:\n"
                                       << describe(result.errors);
}

::testing::AssertionResult has_only_error(const load_result& result, int line, int column, std::string_view key,
                                          std::string_view message) {
  if (result.errors.size() != 1) {
    return ::testing::AssertionFailure() << "expected exactly one error, got " << result.errors.size() << ":\n"
                                         << describe(result.errors);
  }
  return has_error(result, line, column, key, message);
}

config_dir_test::config_dir_test() {
  dir_.write("certs/server.crt");
  dir_.write("certs/server.key");
  dir_.write("certs/key.pass");
  dir_.write("certs/client-ca.crt");
  dir_.write("certs/ca-dir/ca.pem");
}

load_result config_dir_test::load(std::string_view raw_text) const {
  return load_config_text(toml_text(raw_text), config_path());
}

}  // namespace mtlsd::test
