#pragma once
// Owner: config module tests. A scratch directory with real files for the
// loader's path checks, and helpers to assert on config errors precisely.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "mtlsd/config/loader.hpp"

namespace mtlsd::test {

// Config text written as a raw string literal that starts with a newline, so
// that line 1 of the TOML is the first line after R"(.
std::string toml_text(std::string_view raw);

// A directory made with mkdtemp and removed (recursively) at destruction.
class scratch_dir {
 public:
  scratch_dir();
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Creates parent directories; returns the absolute path written.
  std::filesystem::path write(const std::string& relative, const std::string& content = "x\n") const;

 private:
  std::filesystem::path path_;
};

// All errors, one per line, for failure messages.
std::string describe(const config_errors& errors);

// Success when `result` holds exactly one error at line:column under `key`
// whose message contains `message`.
::testing::AssertionResult has_error(const load_result& result, int line, int column, std::string_view key,
                                     std::string_view message);

// Success when `result` holds exactly this one error and no other.
::testing::AssertionResult has_only_error(const load_result& result, int line, int column, std::string_view key,
                                          std::string_view message);

// Lines 1-7 of a config (toml_text drops the leading newline): one TLS
// service "a" requiring client certificates, with the files below; tests
// append the keys they are about from line 8 on.
inline constexpr const char* tls_service_head = R"(
[[service]]
name = "a"
accept = "tls://127.0.0.1:1"
connect = "tcp://127.0.0.1:2"
cert = "certs/server.crt"
key = "certs/server.key"
truststore = "certs/client-ca.crt"
)";

// A scratch config directory holding the files the TLS keys name:
//   certs/server.crt, certs/server.key, certs/key.pass, certs/client-ca.crt, certs/ca-dir/ca.pem
// and load() reads text as if it were <dir>/mtlsd.toml.
class config_dir_test : public ::testing::Test {
 protected:
  config_dir_test();
  load_result load(std::string_view raw_text) const;
  std::filesystem::path config_path() const { return dir_.path() / "mtlsd.toml"; }

  scratch_dir dir_;
};

}  // namespace mtlsd::test
