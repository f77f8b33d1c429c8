// Owned by the metrics module: which families /metrics exposes, their HELP
// text and their labels. The lexical rules live in text_format.cpp.
#include "mtlsd/metrics/exposition.hpp"

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <tuple>
#include <utility>

#include "metrics/text_format.hpp"

namespace mtlsd::metrics {

namespace {

using detail::format_double;
using detail::format_integer;
using detail::format_millis_as_seconds;

struct label {
  std::string_view name;
  std::string_view value;
};

using service_list = std::vector<std::pair<std::string, std::shared_ptr<const service_metrics>>>;

class text_writer {
 public:
  void family(std::string_view name, std::string_view help, std::string_view type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    detail::append_help_text(out_, help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, std::initializer_list<label> labels, std::string_view value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& l : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += l.name;
        out_ += "=\"";
        detail::append_label_value(out_, l.value);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// One family whose samples are one per service, e.g. a counter by service.
template <typename Value>
void per_service(text_writer& w, const service_list& services, std::string_view name, std::string_view help,
                 std::string_view type, Value value_of) {
  w.family(name, help, type);
  for (const auto& [service, m] : services) w.sample(name, {{"service", service}}, value_of(*m));
}

void write_histogram(text_writer& w, const service_list& services, const std::string& name,
                     std::string_view help, const histogram service_metrics::*member) {
  w.family(name, help, "histogram");
  const std::string bucket = name + "_bucket";
  const std::string sum = name + "_sum";
  const std::string count = name + "_count";
  for (const auto& [service, m] : services) {
    const histogram::snapshot s = ((*m).*member).read();
    for (std::size_t i = 0; i < histogram::bounds.size(); ++i) {
      const std::string le = format_double(histogram::bounds[i]);
      w.sample(bucket, {{"service", service}, {"le", le}}, format_integer(s.cumulative[i]));
    }
    w.sample(bucket, {{"service", service}, {"le", "+Inf"}}, format_integer(s.count));
    w.sample(sum, {{"service", service}}, format_double(s.sum_seconds));
    w.sample(count, {{"service", service}}, format_integer(s.count));
  }
}

std::uint64_t handshake_failure_total(const service_metrics& m) {
  std::uint64_t total = 0;
  for (const auto& c : m.handshake_failures) total += c.value();
  return total;
}

void write_process(text_writer& w, const process_metrics& p, const build_info& build) {
  w.family("mtlsd_build_info", "mtlsd build information; the value is always 1.", "gauge");
  w.sample("mtlsd_build_info", {{"version", build.version}, {"openssl", build.openssl}}, "1");

  w.family("mtlsd_start_time_seconds", "Unix time the mtlsd process started.", "gauge");
  w.sample("mtlsd_start_time_seconds", {}, format_millis_as_seconds(p.start_time_ms.value()));

  w.family("mtlsd_ready", "1 once every listener is bound and connections are accepted; 0 while draining.",
           "gauge");
  w.sample("mtlsd_ready", {}, format_integer(p.ready.value()));

  w.family("mtlsd_draining", "1 after a stop signal, while open connections drain.", "gauge");
  w.sample("mtlsd_draining", {}, format_integer(p.draining.value()));

  w.family("mtlsd_config_generation", "Configuration in use: 1 at start-up, +1 per successful reload.",
           "gauge");
  w.sample("mtlsd_config_generation", {}, format_integer(p.config_generation.value()));

  w.family("mtlsd_reloads_total", "Configuration reloads, by result; a failed reload keeps the previous one.",
           "counter");
  w.sample("mtlsd_reloads_total", {{"result", "success"}}, format_integer(p.reloads_ok.value()));
  w.sample("mtlsd_reloads_total", {{"result", "failure"}}, format_integer(p.reloads_failed.value()));

  w.family("mtlsd_reload_last_success_timestamp_seconds",
           "Unix time of the last successful configuration load (start-up counts).", "gauge");
  w.sample("mtlsd_reload_last_success_timestamp_seconds", {},
           format_millis_as_seconds(p.last_reload_success_ms.value()));
}

void write_connections(text_writer& w, const service_list& services) {
  per_service(w, services, "mtlsd_connections_accepted_total",
              "TCP connections accepted, before any limit is applied.", "counter",
              [](const service_metrics& m) { return format_integer(m.accepted.value()); });
  per_service(w, services, "mtlsd_connections_active", "Connections open now.", "gauge",
              [](const service_metrics& m) { return format_integer(m.active.value()); });

  constexpr std::string_view rejected = "mtlsd_connections_rejected_total";
  w.family(rejected,
           "Connections refused: reason limit = max_connections reached, handshake = TLS handshake failed, "
           "descriptors = closed at once for lack of a file descriptor.",
           "counter");
  for (const auto& [service, m] : services) {
    w.sample(rejected, {{"service", service}, {"reason", "limit"}}, format_integer(m->refused_limit.value()));
    w.sample(rejected, {{"service", service}, {"reason", "handshake"}},
             format_integer(handshake_failure_total(*m)));
    w.sample(rejected, {{"service", service}, {"reason", "descriptors"}},
             format_integer(m->refused_descriptors.value()));
  }
  per_service(w, services, "mtlsd_accept_paused",
              "Listeners of the service not accepting now because the process is out of file descriptors.", "gauge",
              [](const service_metrics& m) { return format_integer(m.accept_paused.value()); });
}

void write_handshakes(text_writer& w, const service_list& services) {
  constexpr std::string_view handshakes = "mtlsd_handshakes_total";
  w.family(handshakes, "TLS handshakes, by result; failures by rejection reason (see docs/troubleshooting.md).",
           "counter");
  for (const auto& [service, m] : services) {
    w.sample(handshakes, {{"service", service}, {"result", "success"}}, format_integer(m->handshakes_ok.value()));
    // Every reason, zero or not: an alert on one reason needs its series to exist
    // before the first failure, or rate() has nothing to compare against.
    for (std::size_t i = 0; i < rejection_reason_count; ++i) {
      const std::string_view reason = to_string(static_cast<rejection_reason>(i));
      w.sample(handshakes, {{"service", service}, {"result", "failure"}, {"reason", reason}},
               format_integer(m->handshake_failures[i].value()));
    }
  }

  per_service(w, services, "mtlsd_silent_closes_total",
              "Connections closed without sending a ClientHello (health probes, port scans).", "counter",
              [](const service_metrics& m) { return format_integer(m.silent_closes.value()); });

  write_histogram(w, services, "mtlsd_handshake_duration_seconds",
                  "TLS handshake duration, successful and failed handshakes.",
                  &service_metrics::handshake_duration);
}

void write_traffic(text_writer& w, const service_list& services) {
  constexpr std::string_view bytes = "mtlsd_bytes_total";
  w.family(bytes, "Bytes relayed between clients and backends, by direction.", "counter");
  for (const auto& [service, m] : services) {
    w.sample(bytes, {{"service", service}, {"direction", "client_to_backend"}},
             format_integer(m->bytes_client_to_backend.value()));
    w.sample(bytes, {{"service", service}, {"direction", "backend_to_client"}},
             format_integer(m->bytes_backend_to_client.value()));
  }

  constexpr std::string_view connects = "mtlsd_backend_connects_total";
  w.family(connects, "Backend connection attempts, by result.", "counter");
  for (const auto& [service, m] : services) {
    w.sample(connects, {{"service", service}, {"result", "success"}},
             format_integer(m->backend_connects_ok.value()));
    w.sample(connects, {{"service", service}, {"result", "failure"}},
             format_integer(m->backend_connect_failures.value()));
  }

  write_histogram(w, services, "mtlsd_backend_connect_duration_seconds",
                  "Time to establish a backend connection, successful connects only.",
                  &service_metrics::backend_connect_duration);
}

void write_certificates(text_writer& w, std::vector<certificate_expiry> certificates) {
  // Two certificates can share service, role and subject (a CA re-issued under
  // the same name, both in a truststore). One label set may carry one sample
  // only, so keep the earliest expiry: the one an alert must not miss.
  const auto key = [](const certificate_expiry& c) { return std::tie(c.service, c.role, c.subject); };
  std::sort(certificates.begin(), certificates.end(), [&](const auto& a, const auto& b) {
    return std::tie(a.service, a.role, a.subject, a.not_after_seconds) <
           std::tie(b.service, b.role, b.subject, b.not_after_seconds);
  });
  certificates.erase(std::unique(certificates.begin(), certificates.end(),
                                 [&](const auto& a, const auto& b) { return key(a) == key(b); }),
                     certificates.end());

  constexpr std::string_view name = "mtlsd_certificate_not_after_seconds";
  w.family(name, "Expiry (notAfter) of each loaded certificate as Unix time; role is server, truststore or admin.",
           "gauge");
  for (const auto& c : certificates) {
    w.sample(name, {{"service", c.service}, {"role", c.role}, {"subject", c.subject}},
             format_integer(c.not_after_seconds));
  }
}

void write_live_rejections(text_writer& w, const service_list& services) {
  constexpr std::string_view name = "mtlsd_live_connections_rejected_total";
  w.family(name,
           "Live connections closed after a reload because the new rules refuse their client certificate "
           "(reevaluate_live), by rejection reason.",
           "counter");
  for (const auto& [service, m] : services) {
    for (std::size_t i = 0; i < rejection_reason_count; ++i) {
      const std::string_view reason = to_string(static_cast<rejection_reason>(i));
      w.sample(name, {{"service", service}, {"reason", reason}}, format_integer(m->live_rejections[i].value()));
    }
  }
}

void write_proxy_protocol(text_writer& w, const service_list& services) {
  constexpr std::string_view rejected = "mtlsd_proxy_header_rejections_total";
  w.family(rejected,
           "Connections closed because their PROXY protocol header (accept_proxy_protocol) was refused, by reason.",
           "counter");
  for (const auto& [service, m] : services)
    for (std::size_t i = 0; i < proxy_header_reasons.size(); ++i)
      w.sample(rejected, {{"service", service}, {"reason", proxy_header_reasons[i]}},
               format_integer(m->proxy_header_rejections[i].value()));
  per_service(w, services, "mtlsd_proxy_headers_sent_total", "PROXY protocol headers sent to backends.", "counter",
              [](const service_metrics& m) { return format_integer(m.proxy_headers_sent.value()); });
}

void write_upstream_handshakes(text_writer& w, const service_list& services) {
  constexpr std::string_view name = "mtlsd_upstream_handshakes_total";
  w.family(name, "TLS handshakes with tls:// backends, by result and, for failures, rejection reason.", "counter");
  for (const auto& [service, m] : services) {
    w.sample(name, {{"service", service}, {"result", "success"}}, format_integer(m->upstream_handshakes_ok.value()));
    for (std::size_t i = 0; i < rejection_reason_count; ++i) {
      const std::string_view reason = to_string(static_cast<rejection_reason>(i));
      w.sample(name, {{"service", service}, {"result", "failure"}, {"reason", reason}},
               format_integer(m->upstream_handshake_failures[i].value()));
    }
  }
  constexpr std::string_view resumed = "mtlsd_upstream_sessions_resumed_total";
  w.family(resumed, "Successful handshakes with tls:// backends that resumed a cached session.", "counter");
  for (const auto& [service, m] : services)
    w.sample(resumed, {{"service", service}}, format_integer(m->upstream_handshakes_resumed.value()));
}

void write_crls(text_writer& w, std::vector<crl_freshness> crls) {
  // Several CRLs of one issuer (an old and a new one, both loaded): OpenSSL
  // uses the newest, so the series shows the latest nextUpdate. A CRL
  // without nextUpdate never goes stale: +Inf.
  const auto key = [](const crl_freshness& c) { return std::tie(c.service, c.issuer); };
  const auto until = [](const crl_freshness& c) {
    return c.next_update_seconds.value_or(std::numeric_limits<std::int64_t>::max());
  };
  std::sort(crls.begin(), crls.end(), [&](const auto& a, const auto& b) {
    if (key(a) != key(b)) return key(a) < key(b);
    return until(a) > until(b);  // the latest first: unique() keeps it
  });
  crls.erase(std::unique(crls.begin(), crls.end(), [&](const auto& a, const auto& b) { return key(a) == key(b); }),
             crls.end());

  constexpr std::string_view name = "mtlsd_crl_next_update_seconds";
  w.family(name, "nextUpdate of each loaded CRL as Unix time (+Inf: the CRL has none); past it the CRL is stale.",
           "gauge");
  for (const auto& c : crls) {
    w.sample(name, {{"service", c.service}, {"issuer", c.issuer}},
             c.next_update_seconds ? format_integer(*c.next_update_seconds) : std::string("+Inf"));
  }
}

void write_crl_fetches(text_writer& w, std::vector<crl_fetch_status> fetches) {
  std::sort(fetches.begin(), fetches.end(), [](const auto& a, const auto& b) { return a.url < b.url; });
  constexpr std::string_view success = "mtlsd_crl_fetch_last_success_seconds";
  w.family(success, "When the CRL at this URL was last fetched and accepted, as Unix time; 0 before the first success.",
           "gauge");
  for (const auto& f : fetches) w.sample(success, {{"url", f.url}}, format_integer(f.last_success_seconds));
  constexpr std::string_view failures = "mtlsd_crl_fetch_failures_total";
  w.family(failures, "Fetches of the CRL at this URL that failed or returned a CRL that was refused.", "counter");
  for (const auto& f : fetches) w.sample(failures, {{"url", f.url}}, format_integer(f.failures));
}

void write_backends(text_writer& w, const std::vector<registry::backend_entry>& backends) {
  struct family {
    std::string_view name, help, type;
    std::int64_t (*value)(const backend_metrics&);
  };
  const family families[] = {
      {"mtlsd_backend_connections_active", "Client connections relayed to this backend address now.", "gauge",
       [](const backend_metrics& m) { return m.active.value(); }},
      {"mtlsd_backend_connections_total", "Connections to this backend address that were established.", "counter",
       [](const backend_metrics& m) { return static_cast<std::int64_t>(m.connections.value()); }},
      {"mtlsd_backend_connect_failures_total",
       "Connect attempts to this backend address that failed (refused, timed out, unreachable).", "counter",
       [](const backend_metrics& m) { return static_cast<std::int64_t>(m.connect_failures.value()); }},
      {"mtlsd_backend_up",
       "1 while this backend address is in rotation, 0 while health checks or failures keep it out.", "gauge", [](const backend_metrics& m) { return m.up.value(); }},
  };
  for (const auto& f : families) {
    w.family(f.name, f.help, f.type);
    for (const auto& b : backends)
      w.sample(f.name, {{"service", b.service}, {"backend", b.backend}}, format_integer(f.value(*b.metrics)));
  }
}

}  // namespace

std::string render(const registry& metrics, const std::vector<certificate_expiry>& certificates,
                   const build_info& build, const std::vector<crl_freshness>& crls,
                   const std::vector<crl_fetch_status>& fetches) {
  text_writer w;
  const service_list services = metrics.services();  // sorted by name: the registry is a std::map
  write_process(w, metrics.process(), build);
  write_connections(w, services);
  write_handshakes(w, services);
  write_traffic(w, services);
  write_certificates(w, certificates);
  write_live_rejections(w, services);
  write_proxy_protocol(w, services);
  write_upstream_handshakes(w, services);
  write_crls(w, crls);
  write_crl_fetches(w, fetches);
  write_backends(w, metrics.backends());
  return w.take();
}

}  // namespace mtlsd::metrics
