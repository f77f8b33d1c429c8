// mtlsd-inproc: what one mTLS handshake costs OpenSSL's server side on this
// machine, without sockets or a proxy. The figure is the ceiling any proxy on
// one core can approach, which puts the socket benchmarks in proportion.
// Owned by the benchmark helper (bench/inproc).
#include <openssl/ssl.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "contexts.hpp"
#include "handshake_pair.hpp"

namespace {

using namespace mtlsd::bench;

constexpr std::string_view usage_text =
    "usage: mtlsd-inproc --server-cert F --server-key F --client-cert F --client-key F\n"
    "                    --client-ca F --server-ca F [--seconds S] [--tls13] [--sessions-like-mtlsd]\n"
    "\n"
    "Runs full, then resumed, mTLS handshakes between two SSL objects over a memory\n"
    "BIO pair (S/2 seconds each, default S=5, at most 100000 each) and prints\n"
    "  result full_ms=... full_rate=... resumed_ms=... resumed_rate=... total_full_rate=...\n"
    "*_ms: server CPU per handshake; *_rate: 1000 / *_ms; total_full_rate: full\n"
    "handshakes per second of the whole loop, client included.\n"
    "--sessions-like-mtlsd: the server sends one ticket naming a session kept in\n"
    "memory (mtlsd without session_ticket_key_file) instead of OpenSSL's default\n"
    "two stateless tickets.\n";

constexpr std::uint64_t max_per_phase = 100000;

struct inproc_options {
  inproc_files files;
  double seconds = 5;
  bool tls13_only = false;
  session_style sessions = session_style::openssl_default;
};

std::optional<inproc_options> parse_options(int argc, char** argv) {
  inproc_options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--tls13") {
      o.tls13_only = true;
      continue;
    }
    if (name == "--sessions-like-mtlsd") {
      o.sessions = session_style::like_mtlsd;
      continue;
    }
    if (i + 1 >= argc) return std::nullopt;
    const char* value = argv[++i];
    if (name == "--server-cert") {
      o.files.server_cert = value;
    } else if (name == "--server-key") {
      o.files.server_key = value;
    } else if (name == "--client-cert") {
      o.files.client_cert = value;
    } else if (name == "--client-key") {
      o.files.client_key = value;
    } else if (name == "--client-ca") {
      o.files.client_ca = value;
    } else if (name == "--server-ca") {
      o.files.server_ca = value;
    } else if (name == "--seconds") {
      char* end = nullptr;
      errno = 0;
      o.seconds = std::strtod(value, &end);
      if (errno != 0 || end == value || *end != '\0' || !std::isfinite(o.seconds) || o.seconds <= 0 ||
          o.seconds > 3600) {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  const inproc_files& f = o.files;
  if (f.server_cert.empty() || f.server_key.empty() || f.client_cert.empty() || f.client_key.empty() ||
      f.client_ca.empty() || f.server_ca.empty()) {
    return std::nullopt;
  }
  return o;
}

std::int64_t wall_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct phase_totals {
  std::uint64_t count = 0;
  std::int64_t server_cpu_ns = 0;
  std::int64_t wall_ns = 0;
};

// Bounded by time and by max_per_phase. Any failure ends the run: a handshake
// that fails here is a broken PKI, not a measurement.
std::optional<phase_totals> run_phase(handshake_driver& driver, bool resume, double seconds) {
  phase_totals t;
  const std::int64_t start = wall_ns();
  const std::int64_t deadline = start + static_cast<std::int64_t>(seconds * 1e9);
  while (t.count < max_per_phase && wall_ns() < deadline) {
    const handshake_outcome h = driver.run(resume);
    if (!h.ok) {
      std::fprintf(stderr, "mtlsd-inproc: %s handshake failed: %s\n", resume ? "resumed" : "full", h.error.c_str());
      return std::nullopt;
    }
    if (h.resumed != resume) {
      std::fprintf(stderr, "mtlsd-inproc: a %s handshake %s\n", resume ? "resumption" : "full",
                   resume ? "was not resumed (server refused the ticket)" : "unexpectedly resumed");
      return std::nullopt;
    }
    ++t.count;
    t.server_cpu_ns += h.server_cpu_ns;
  }
  t.wall_ns = wall_ns() - start;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  if (!options) {
    std::fputs(usage_text.data(), stderr);
    return 2;
  }
  std::string error;
  const ssl_ctx_ptr server = make_server_context(options->files, options->tls13_only, options->sessions, error);
  const ssl_ctx_ptr client = server ? make_client_context(options->files, options->tls13_only, error) : nullptr;
  if (!server || !client) {
    std::fprintf(stderr, "mtlsd-inproc: %s\n", error.c_str());
    return 2;
  }
  handshake_driver driver(server.get(), client.get());
  const auto full = run_phase(driver, false, options->seconds / 2);
  if (!full || !driver.have_session()) {
    if (full) std::fputs("mtlsd-inproc: the server issued no session ticket\n", stderr);
    return 1;
  }
  const auto resumed = run_phase(driver, true, options->seconds / 2);
  if (!resumed) return 1;

  const double full_ms = static_cast<double>(full->server_cpu_ns) / 1e6 / static_cast<double>(full->count);
  const double resumed_ms = static_cast<double>(resumed->server_cpu_ns) / 1e6 / static_cast<double>(resumed->count);
  const double total_full_rate = static_cast<double>(full->count) / (static_cast<double>(full->wall_ns) / 1e9);
  std::printf("result full_ms=%.4f full_rate=%.1f resumed_ms=%.4f resumed_rate=%.1f total_full_rate=%.1f\n", full_ms,
              1000.0 / full_ms, resumed_ms, 1000.0 / resumed_ms, total_full_rate);
  std::fflush(stdout);
  return 0;
}
