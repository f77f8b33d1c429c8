// Owned by the benchmark helper (bench/loadgen).
#include "options.hpp"

#include <netdb.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace mtlsd::bench {

const char* const loadgen_usage =
    "usage: mtlsd-loadgen --mode MODE --target HOST:PORT --cert FILE --key FILE --ca FILE [options]\n"
    "\n"
    "Modes:\n"
    "  handshake  --concurrency C      C clients loop: connect, full mTLS handshake, 1-byte echo, close_notify\n"
    "  resume     --concurrency C      the same, resuming the thread's latest session (ticket)\n"
    "  bulk       --connections N [--chunk BYTES]  full-duplex echo streams, counts bytes echoed back\n"
    "  latency    --connections N [--size BYTES]   closed-loop request/echo round trips\n"
    "  idle       --connections N [--hold SECONDS] open N connections, print \"ready connections=N\",\n"
    "                                  hold until stdin EOF or --hold (default 600) passes\n"
    "Common:\n"
    "  --tls13              TLS 1.3 only (default TLS 1.2..1.3); TLS_AES_128_GCM_SHA256, X25519 always\n"
    "  --threads T          worker threads, each with its own epoll loop and SSL_CTX (default 1)\n"
    "  --duration SECONDS   measured phase (default 10)\n"
    "  --warmup SECONDS     untimed warm-up before it (default 1)\n"
    "Prints one line: result mode=... key=value ...; exit 0, 1 when nothing succeeded, 2 on bad usage.\n";

const char* mode_name(load_mode mode) {
  switch (mode) {
    case load_mode::handshake: return "handshake";
    case load_mode::resume: return "resume";
    case load_mode::bulk: return "bulk";
    case load_mode::latency: return "latency";
    case load_mode::idle: return "idle";
  }
  return "?";
}

namespace {

bool parse_mode(std::string_view text, load_mode& out) {
  for (load_mode m : {load_mode::handshake, load_mode::resume, load_mode::bulk, load_mode::latency, load_mode::idle}) {
    if (text == mode_name(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

bool parse_unsigned(const char* text, unsigned long long min, unsigned long long max, unsigned long long& out) {
  if (*text < '0' || *text > '9') return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(text, &end, 10);
  return errno == 0 && *end == '\0' && out >= min && out <= max;
}

bool parse_seconds(const char* text, double min, double& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text, &end);
  // An upper bound keeps deadline arithmetic in int64 nanoseconds safe.
  return errno == 0 && end != text && *end == '\0' && std::isfinite(out) && out >= min && out <= 1e6;
}

// Resolved once at start-up (blocking is fine there); accepts 127.0.0.1:443,
// [::1]:443 and host names.
bool resolve_target(std::string_view text, loadgen_options& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return false;
  std::string host(text.substr(0, colon));
  const std::string port(text.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) return false;
  std::memcpy(&out.address, found->ai_addr, found->ai_addrlen);
  out.address_length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return true;
}

}  // namespace

std::optional<loadgen_options> parse_loadgen_options(int argc, char** argv) {
  loadgen_options o;
  bool have_mode = false;
  bool have_target = false;
  auto fail = [](const char* what, const char* value) -> std::optional<loadgen_options> {
    std::fprintf(stderr, "mtlsd-loadgen: %s%s%s\n\n%s", what, value ? ": " : "", value ? value : "", loadgen_usage);
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--help") {
      std::fputs(loadgen_usage, stdout);
      std::exit(0);
    }
    if (name == "--tls13") {
      o.tls13_only = true;
      continue;
    }
    if (i + 1 >= argc) return fail("missing value for", argv[i]);
    const char* value = argv[++i];
    unsigned long long number = 0;
    if (name == "--mode") {
      if (!parse_mode(value, o.mode)) return fail("unknown mode", value);
      have_mode = true;
    } else if (name == "--target") {
      o.target = value;
      if (!resolve_target(value, o)) return fail("cannot resolve target HOST:PORT", value);
      have_target = true;
    } else if (name == "--cert") {
      o.cert_file = value;
    } else if (name == "--key") {
      o.key_file = value;
    } else if (name == "--ca") {
      o.ca_file = value;
    } else if (name == "--threads") {
      if (!parse_unsigned(value, 1, 256, number)) return fail("--threads must be 1..256", value);
      o.threads = static_cast<unsigned>(number);
    } else if (name == "--duration") {
      if (!parse_seconds(value, 0.001, o.duration_seconds)) return fail("bad --duration", value);
    } else if (name == "--warmup") {
      if (!parse_seconds(value, 0, o.warmup_seconds)) return fail("bad --warmup", value);
    } else if (name == "--hold") {
      if (!parse_seconds(value, 0, o.hold_seconds)) return fail("bad --hold", value);
    } else if (name == "--concurrency") {
      if (!parse_unsigned(value, 1, 100000, number)) return fail("--concurrency must be 1..100000", value);
      o.concurrency = static_cast<unsigned>(number);
    } else if (name == "--connections") {
      if (!parse_unsigned(value, 1, 1000000, number)) return fail("--connections must be 1..1000000", value);
      o.connections = static_cast<unsigned>(number);
    } else if (name == "--chunk") {
      if (!parse_unsigned(value, 1, 1 << 20, number)) return fail("--chunk must be 1..1048576", value);
      o.chunk = static_cast<std::size_t>(number);
    } else if (name == "--size") {
      if (!parse_unsigned(value, 1, 1 << 20, number)) return fail("--size must be 1..1048576", value);
      o.size = static_cast<std::size_t>(number);
    } else {
      return fail("unknown option", argv[i - 1]);
    }
  }
  if (!have_mode) return fail("--mode is required", nullptr);
  if (!have_target) return fail("--target is required", nullptr);
  if (o.cert_file.empty() || o.key_file.empty() || o.ca_file.empty()) {
    return fail("--cert, --key and --ca are required", nullptr);
  }
  return o;
}

}  // namespace mtlsd::bench
