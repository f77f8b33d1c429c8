#include "metrics_test_support.hpp"

#include <chrono>
#include <sstream>

namespace mtlsd::test {

using namespace std::chrono_literals;

std::vector<sample_line> sample_lines(const std::string& text) {
  std::vector<sample_line> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) {
      out.push_back({line, ""});
    } else {
      out.push_back({line.substr(0, space), line.substr(space + 1)});
    }
  }
  return out;
}

std::optional<std::string> value_of(const std::string& text, const std::string& series) {
  for (auto& s : sample_lines(text)) {
    if (s.series == series) return s.value;
  }
  return std::nullopt;
}

void populate(metrics::registry& registry) {
  auto& p = registry.process();
  p.start_time_ms.set(1712000000123);
  p.last_reload_success_ms.set(1712000360500);
  p.config_generation.set(3);
  p.reloads_ok.add(2);
  p.reloads_failed.add(1);
  p.ready.set(1);

  auto beta = registry.service("beta");
  auto alpha = registry.service("alpha");
  std::uint64_t n = 1;
  for (auto* m : {alpha.get(), beta.get()}) {
    m->accepted.add(100 * n);
    m->active.add(static_cast<std::int64_t>(7 * n));
    m->refused_limit.add(3 * n);
    m->handshakes_ok.add(80 * n);
    m->handshake_failures[static_cast<std::size_t>(rejection_reason::not_whitelisted)].add(4 * n);
    m->handshake_failures[static_cast<std::size_t>(rejection_reason::timeout)].add(1 * n);
    m->silent_closes.add(2 * n);
    m->bytes_client_to_backend.add(12345 * n);
    m->bytes_backend_to_client.add(67890 * n);
    m->backend_connects_ok.add(78 * n);
    m->backend_connect_failures.add(2 * n);
    for (std::chrono::nanoseconds d : {300us, 2000us, 40000us, 1000000us, 12000000us}) m->handshake_duration.observe(d);
    for (std::chrono::nanoseconds d : {100us, 700us, 3000us}) m->backend_connect_duration.observe(d);
    ++n;
  }
}

std::vector<metrics::certificate_expiry> sample_certificates() {
  return {
      {"beta", "server", "CN=beta.example", 1800000000},
      {"alpha", "truststore", hostile_subject, 1900000000},
      {"alpha", "server", "CN=alpha.example,O=Zürich AG", 1750000000},
      {"", "admin", "CN=admin.local", 1760000000},
  };
}

}  // namespace mtlsd::test
