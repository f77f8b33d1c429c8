#include "secret_audit.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

namespace mtlsd::test {
namespace {

// Shorter lines ("-----", a one-word test password) could match innocent text.
constexpr std::size_t min_secret_length = 8;

std::mutex audit_mutex;

std::filesystem::path audit_file(const char* kind) {
  const char* dir = std::getenv("MTLSD_TEST_AUDIT_DIR");
  if (dir == nullptr || *dir == '\0') return {};
  return std::filesystem::path(dir) / (std::string(kind) + "-" + std::to_string(::getpid()) + ".txt");
}

void append(const std::filesystem::path& file, std::string_view text) {
  std::lock_guard lock(audit_mutex);
  std::ofstream out(file, std::ios::binary | std::ios::app);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

bool is_secret_file(const std::filesystem::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".key" || extension == ".pass";
}

}  // namespace

void audit_written_file(const std::filesystem::path& path, std::string_view text) {
  const auto file = audit_file("secrets");
  if (file.empty()) return;
  const bool whole_file = is_secret_file(path);
  std::string secrets;
  bool in_key = false;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const bool marker = line.rfind("-----", 0) == 0;
    if (marker && line.find("PRIVATE KEY") != std::string::npos) in_key = line.rfind("-----BEGIN", 0) == 0;
    // The base64 of a key (not its BEGIN/END lines, which name no secret).
    const bool key_line = in_key && !marker;
    if ((whole_file && !marker) || key_line) {
      if (line.size() >= min_secret_length) secrets += line + "\n";
    }
  }
  if (!secrets.empty()) append(file, secrets);
}

void audit_process_output(const std::vector<std::string>& argv, std::string_view output) {
  bool is_mtlsd = false;
  for (const auto& arg : argv) is_mtlsd = is_mtlsd || std::filesystem::path(arg).filename() == "mtlsd";
  if (!is_mtlsd || output.empty()) return;
  const auto file = audit_file("output");
  if (file.empty()) return;
  append(file, output);
}

}  // namespace mtlsd::test
