#pragma once
// `mtlsd verify` (cli module): argument parsing, the service to judge with
// (from a config file, or synthesized from flags), and the report. The
// verdict itself comes from tls::verify_offline (offline_verify.hpp).

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/config/config.hpp"
#include "mtlsd/tls/offline_verify.hpp"

namespace mtlsd::cli {

struct verify_options {
  bool help = false;
  // Config mode: --config FILE --service NAME.
  std::filesystem::path config;
  std::string service;
  // Standalone mode: --truststore and the verification keys as flags.
  std::filesystem::path truststore;
  std::vector<std::filesystem::path> crl;
  crl_stale_mode crl_stale = crl_stale_mode::reject;
  int verify_depth = 4;
  bool require_client_auth_eku = true;
  std::optional<allow_rules> allow;
  std::optional<std::int64_t> at;  // unix seconds; nullopt: now
  bool json = false;
  std::filesystem::path chain;  // the client's certificate first, then intermediates
};

// Parses the words after "verify". False with `error` set on a usage error.
bool parse_verify_args(const std::vector<std::string_view>& args, verify_options& opts, std::string& error);

// RFC 3339 with a "Z" or "+hh:mm"/"-hh:mm" offset (fractions ignored), or
// "@<unix seconds>".
std::optional<std::int64_t> parse_time(std::string_view text);

// The service standalone mode verifies with.
service_config standalone_service(const verify_options& opts);

// The report: one line per check, then the verdict line.
void print_text(std::ostream& out, const tls::offline_verdict& verdict);
// One JSON object: {"verdict":..., "reason":..., "detail":..., "checks":[...]}.
void print_json(std::ostream& out, const tls::offline_verdict& verdict);
// The verdict line alone: `ACCEPT (matched cn="a")` or `REJECT reason=... detail="..."`.
std::string verdict_line(const tls::offline_verdict& verdict);

extern const char* const verify_help;

// The whole command; exit status 0 ACCEPT, 1 REJECT, 2 usage or config error.
int run_verify(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err);

}  // namespace mtlsd::cli
