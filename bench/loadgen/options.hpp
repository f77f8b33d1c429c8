// mtlsd-loadgen command line. Owned by the benchmark helper (bench/loadgen).
// The option names and meanings are the interface the bench runner relies on
// (bench/README.md); keep them stable.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <optional>
#include <string>

namespace mtlsd::bench {

enum class load_mode { handshake, resume, bulk, latency, idle };

const char* mode_name(load_mode mode);

struct loadgen_options {
  load_mode mode = load_mode::handshake;
  std::string target;  // as given, for messages
  sockaddr_storage address{};
  socklen_t address_length = 0;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool tls13_only = false;
  unsigned threads = 1;
  double duration_seconds = 10;
  double warmup_seconds = 1;
  unsigned concurrency = 1;   // handshake, resume
  unsigned connections = 1;   // bulk, latency, idle (total across threads)
  std::size_t chunk = 16384;  // bulk
  std::size_t size = 64;      // latency
  double hold_seconds = 600;  // idle
};

extern const char* const loadgen_usage;

// nullopt (after printing the reason to stderr) on bad usage.
std::optional<loadgen_options> parse_loadgen_options(int argc, char** argv);

}  // namespace mtlsd::bench
