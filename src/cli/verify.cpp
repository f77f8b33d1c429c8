#include "mtlsd/cli/verify.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <charconv>
#include <ctime>
#include <iostream>
#include <memory>

#include "cli/validated_config.hpp"
#include "mtlsd/log/logging.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/server_context.hpp"

namespace mtlsd::cli {

const char* const verify_help =
    "Usage: mtlsd verify --config FILE --service NAME [options] CHAIN.pem\n"
    "       mtlsd verify --truststore CA.pem [policy flags] [options] CHAIN.pem\n"
    "\n"
    "Judges a client certificate chain (CHAIN.pem: the client's certificate first,\n"
    "then the intermediates it sends) exactly as the service's handshake would,\n"
    "without connecting, and explains every check one line at a time.\n"
    "\n"
    "Policy flags (without --config):\n"
    "  --truststore FILE|DIR           trusted CAs (required)\n"
    "  --crl FILE                      a CRL file; repeatable\n"
    "  --crl-stale reject|warn         a CRL past nextUpdate refuses or admits (default reject)\n"
    "  --verify-depth N                intermediates allowed (default 4)\n"
    "  --require-client-auth-eku true|false   (default true)\n"
    "  --allow-cn V, --allow-ou V, --allow-o V, --allow-dns V, --allow-uri V,\n"
    "  --allow-ip V, --allow-email V, --allow-sha256 V,\n"
    "  --allow-spiffe-trust-domain V, --allow-spiffe-id V   whitelist rules; repeatable\n"
    "\n"
    "Options:\n"
    "  --at TIME    verify at TIME (RFC 3339, e.g. 2026-01-02T03:04:05Z, or @unix-seconds)\n"
    "  --json       print one JSON object (checks and verdict)\n"
    "\n"
    "Exit status: 0 ACCEPT, 1 REJECT, 2 usage or configuration error.\n";

namespace {

struct flag_value {
  std::string_view name;
  std::string_view value;
};

std::vector<std::string>* allow_field(allow_rules& rules, std::string_view flag) {
  if (flag == "--allow-cn") return &rules.cn;
  if (flag == "--allow-ou") return &rules.ou;
  if (flag == "--allow-o") return &rules.o;
  if (flag == "--allow-dns") return &rules.dns;
  if (flag == "--allow-uri") return &rules.uri;
  if (flag == "--allow-ip") return &rules.ip;
  if (flag == "--allow-email") return &rules.email;
  if (flag == "--allow-sha256") return &rules.sha256;
  if (flag == "--allow-spiffe-trust-domain") return &rules.spiffe_trust_domain;
  if (flag == "--allow-spiffe-id") return &rules.spiffe_id;
  return nullptr;
}

bool takes_value(std::string_view flag) {
  static const std::string_view valued[] = {"--config", "-c", "--service", "--truststore", "--crl", "--crl-stale",
                                            "--verify-depth", "--require-client-auth-eku", "--at"};
  for (auto v : valued)
    if (flag == v) return true;
  return flag.starts_with("--allow-");
}

std::string json_check(const tls::explained_check& check) {
  return "{\"status\":" + log::json_string(tls::to_string(check.status)) + ",\"check\":" +
         log::json_string(check.name) + ",\"text\":" + log::json_string(check.text) + "}";
}

std::vector<ossl::x509_ptr> read_chain(const std::filesystem::path& file, std::string& error) {
  std::vector<ossl::x509_ptr> chain;
  ossl::bio_ptr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    error = "cannot read " + file.string();
    return chain;
  }
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) chain.emplace_back(cert);
  ERR_clear_error();  // the loop ends on "no start line"
  if (chain.empty()) error = file.string() + " holds no PEM certificate";
  return chain;
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view text) {
  if (text.starts_with("@")) {
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data() + 1, end, value);
    if (ec != std::errc() || ptr != end || text.size() == 1) return std::nullopt;
    return value;
  }
  std::tm tm{};
  const std::string s(text);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest || s.size() < 19 || s[4] != '-' || s[10] != 'T') return std::nullopt;
  std::string_view tail(rest);
  if (tail.starts_with(".")) {
    std::size_t digits = 1;
    while (digits < tail.size() && tail[digits] >= '0' && tail[digits] <= '9') ++digits;
    if (digits == 1) return std::nullopt;
    tail.remove_prefix(digits);
  }
  std::int64_t offset = 0;
  if (tail == "Z" || tail == "z") {
    offset = 0;
  } else if (tail.size() == 6 && (tail[0] == '+' || tail[0] == '-') && tail[3] == ':') {
    int hours = 0, minutes = 0;
    if (std::from_chars(tail.data() + 1, tail.data() + 3, hours).ec != std::errc() ||
        std::from_chars(tail.data() + 4, tail.data() + 6, minutes).ec != std::errc() || hours > 23 || minutes > 59)
      return std::nullopt;
    offset = (hours * 3600 + minutes * 60) * (tail[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

bool parse_verify_args(const std::vector<std::string_view>& args, verify_options& opts, std::string& error) {
  bool standalone_flag = false;
  std::string first_standalone;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::string_view value;
    if (flag == "-h" || flag == "--help") {
      opts.help = true;
      continue;
    }
    if (flag == "--json") {
      opts.json = true;
      continue;
    }
    if (!flag.starts_with("-") || flag == "-") {
      if (!opts.chain.empty()) {
        error = "only one CHAIN.pem may be given (found '" + opts.chain.string() + "' and '" + std::string(flag) + "')";
        return false;
      }
      opts.chain = std::string(flag);
      continue;
    }
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (takes_value(flag)) {
      if (i + 1 >= args.size()) {
        error = std::string(flag) + " needs a value";
        return false;
      }
      value = args[++i];
    }
    if (!takes_value(flag)) {
      error = "unknown option '" + std::string(flag) + "'";
      return false;
    }
    const bool standalone = flag != "--config" && flag != "-c" && flag != "--service" && flag != "--at";
    if (standalone && !standalone_flag) {
      standalone_flag = true;
      first_standalone = std::string(flag);
    }
    if (flag == "--config" || flag == "-c") {
      opts.config = std::string(value);
    } else if (flag == "--service") {
      opts.service = std::string(value);
    } else if (flag == "--truststore") {
      opts.truststore = std::string(value);
    } else if (flag == "--crl") {
      opts.crl.emplace_back(std::string(value));
    } else if (flag == "--crl-stale") {
      if (value == "reject") opts.crl_stale = crl_stale_mode::reject;
      else if (value == "warn") opts.crl_stale = crl_stale_mode::warn;
      else return error = "--crl-stale must be reject or warn, not '" + std::string(value) + "'", false;
    } else if (flag == "--verify-depth") {
      int depth = -1;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), depth);
      if (ec != std::errc() || ptr != value.data() + value.size() || depth < 0 || depth > 32)
        return error = "--verify-depth must be a whole number from 0 to 32 (as in the config), not '" + std::string(value) + "'", false;
      opts.verify_depth = depth;
    } else if (flag == "--require-client-auth-eku") {
      if (value == "true") opts.require_client_auth_eku = true;
      else if (value == "false") opts.require_client_auth_eku = false;
      else return error = "--require-client-auth-eku must be true or false, not '" + std::string(value) + "'", false;
    } else if (flag == "--at") {
      opts.at = parse_time(value);
      if (!opts.at)
        return error = "--at needs an RFC 3339 time (2026-01-02T03:04:05Z) or @unix-seconds, not '" +
                       std::string(value) + "'",
               false;
    } else {
      if (!opts.allow) opts.allow.emplace();
      std::vector<std::string>* field = allow_field(*opts.allow, flag);
      if (!field) return error = "unknown option '" + std::string(flag) + "'", false;
      field->emplace_back(value);
    }
  }
  if (opts.help) return true;
  if (opts.chain.empty()) return error = "no CHAIN.pem given (the client's certificate, then its intermediates)", false;
  if (!opts.config.empty()) {
    if (standalone_flag)
      return error = first_standalone + " cannot be combined with --config (the service's own settings apply)", false;
    if (opts.service.empty()) return error = "--config needs --service NAME", false;
    return true;
  }
  if (!opts.service.empty()) return error = "--service needs --config FILE", false;
  if (opts.truststore.empty()) return error = "give --config FILE --service NAME, or --truststore FILE", false;
  return true;
}

service_config standalone_service(const verify_options& opts) {
  service_config s;
  s.name = "verify";
  s.key_path_prefix = "verify";
  s.verify_client = verify_client_mode::require;
  s.truststore = opts.truststore;
  s.crl = opts.crl;
  s.crl_stale = opts.crl_stale;
  s.verify_depth = opts.verify_depth;
  s.require_client_auth_eku = opts.require_client_auth_eku;
  s.allow = opts.allow;
  s.session_cache_size = 0;
  return s;
}

std::string verdict_line(const tls::offline_verdict& verdict) {
  if (verdict.accepted)
    return verdict.detail == "any" ? "ACCEPT (no whitelist)" : "ACCEPT (matched " + verdict.detail + ")";
  // Rendered as the handshake_failed log line renders these two fields.
  return log::record("REJECT").add("reason", to_string(verdict.reason)).add("detail", verdict.detail).render(
      log_format::text);
}

void print_text(std::ostream& out, const tls::offline_verdict& verdict) {
  for (const auto& check : verdict.checks) {
    std::string status(tls::to_string(check.status));
    status.resize(6, ' ');
    out << status << check.name << ": " << check.text << '\n';
  }
  out << verdict_line(verdict) << '\n';
}

void print_json(std::ostream& out, const tls::offline_verdict& verdict) {
  out << "{\"verdict\":" << (verdict.accepted ? "\"ACCEPT\"" : "\"REJECT\"") << ",\"reason\":"
      << (verdict.accepted ? std::string("null") : log::json_string(to_string(verdict.reason)))
      << ",\"detail\":" << log::json_string(verdict.detail) << ",\"checks\":[";
  for (std::size_t i = 0; i < verdict.checks.size(); ++i) out << (i ? "," : "") << json_check(verdict.checks[i]);
  out << "]}\n";
}

int run_verify(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err) {
  verify_options opts;
  std::string error;
  if (!parse_verify_args(args, opts, error)) {
    err << "mtlsd verify: " << error << "\nRun 'mtlsd verify --help' for usage.\n";
    return 2;
  }
  if (opts.help) {
    out << verify_help;
    return 0;
  }
  // A stale CRL under crl_stale = "warn" is logged as the daemon logs it.
  log::setup(log_level::warn, log_format::text);
  std::shared_ptr<const tls::server_context> context;
  validated_config v;
  if (!opts.config.empty()) {
    v = load_and_validate(opts.config);
    if (!v.errors.empty()) {
      print_errors(v, opts.config);
      return 2;
    }
    for (const auto& service : v.runtime->services) {
      if (service->config.name != opts.service) continue;
      if (!service->tls) {
        err << "mtlsd verify: service " << opts.service << " accepts plain TCP; there is no certificate to verify\n";
        return 2;
      }
      if (service->config.verify_client == verify_client_mode::none) {
        err << "mtlsd verify: service " << opts.service
            << " has verify_client = none; it never asks for a client certificate\n";
        return 2;
      }
      context = service->tls;
    }
    if (!context) {
      err << "mtlsd verify: no service named '" << opts.service << "' in " << opts.config.string() << '\n';
      return 2;
    }
  } else {
    config_errors errors;
    std::vector<std::string> warnings;
    const service_config service = standalone_service(opts);
    context = tls::server_context::build_verifier(service, errors, warnings);
    if (!context || !errors.empty()) {
      for (const auto& e : errors) err << "mtlsd verify: --" << e.key.substr(e.key.rfind('.') + 1) << ": " << e.message << '\n';
      return 2;
    }
  }
  auto chain = read_chain(opts.chain, error);
  if (chain.empty()) {
    err << "mtlsd verify: " << error << '\n';
    return 2;
  }
  std::vector<X509*> certs;
  for (const auto& c : chain) certs.push_back(c.get());
  const tls::offline_verdict verdict = tls::verify_offline(*context, certs, opts.at);
  if (opts.json)
    print_json(out, verdict);
  else
    print_text(out, verdict);
  return verdict.accepted ? 0 : 1;
}

}  // namespace mtlsd::cli
