#include <algorithm>
#include "cli/check.hpp"

#include <ostream>

namespace mtlsd::cli {
namespace {

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

void print_whitelist(std::ostream& out, const service_config& s) {
  if (!s.allow) {
    out << "  whitelist      none: any certificate that chains to the truststore\n";
    return;
  }
  out << "  whitelist      " << s.allow->size() << (s.allow->size() == 1 ? " rule" : " rules")
      << " (a certificate matching any one is admitted)\n";
  const std::pair<const char*, const std::vector<std::string>*> fields[] = {
      {"cn", &s.allow->cn},   {"ou", &s.allow->ou},   {"o", &s.allow->o},         {"dns", &s.allow->dns},
      {"uri", &s.allow->uri}, {"ip", &s.allow->ip},   {"email", &s.allow->email}, {"sha256", &s.allow->sha256},
      {"spiffe_trust_domain", &s.allow->spiffe_trust_domain}, {"spiffe_id", &s.allow->spiffe_id}};
  for (const auto& [name, values] : fields) {
    if (!values->empty()) out << "    " << name << ": " << join(*values) << '\n';
  }
  if (!s.allow->spiffe_trust_domain.empty() || !s.allow->spiffe_id.empty()) {
    out << "    (spiffe_* rules: every client certificate must be a valid X.509-SVID)\n";
  }
}

// "/etc/mtlsd/server.p12, alias server".
std::string keystore_text(const service_config& s, const tls::server_context& tls) {
  const std::string& alias = tls.keystore_alias();
  return s.keystore.string() + ", alias " + (alias.empty() ? "(none; the only private-key entry)" : alias);
}

void print_revocation(std::ostream& out, const service_config& s, const tls::server_context& tls) {
  if (s.verify_client != verify_client_mode::none) {
    const auto& crls = tls.crls();
    if (crls.empty()) {
      out << "  crl            none: revocation is not checked\n";
    } else {
      out << "  crl            " << crls.size() << (crls.size() == 1 ? " CRL" : " CRLs") << " (crl_stale "
          << to_string(s.crl_stale) << "; every CA in a client's chain needs one)\n";
      for (const auto& crl : crls) {
        out << "    " << crl.issuer << ": next update "
            << (crl.next_update.empty() ? std::string("none (never stale)") : crl.next_update) << ", " << crl.revoked
            << " revoked" << (crl.issuer_trusted ? "" : ", issuer not in the truststore") << " (" << crl.file
            << ")\n";
      }
    }
    if (tls.ocsp() == ocsp_mode::off) {
      out << "  ocsp           off\n";
    } else {
      out << "  ocsp           " << to_string(tls.ocsp()) << ", responder "
          << (tls.ocsp_url().empty() ? std::string("from each certificate (AIA)") : tls.ocsp_url()) << ", timeout "
          << format_duration(tls.ocsp_timeout()) << '\n';
    }
    out << "  live connections "
        << (s.reevaluate_live ? "judged again after each reload (reevaluate_live)"
                              : "keep the rules they were admitted under (reevaluate_live = false)")
        << '\n';
  }
  if (const auto* staple = tls.staple()) {
    out << "  ocsp staple    " << staple->cert_status << ", this update " << staple->this_update << ", next update "
        << (staple->next_update.empty() ? std::string("none") : staple->next_update) << " ("
        << s.ocsp_staple_file.string() << ")\n";
  }
}

}  // namespace

void print_upstream(std::ostream& out, const service_config& s, const tls::client_context& up) {
  const auto& u = s.upstream;
  out << "  upstream tls   min_tls_version " << to_string(u.min_tls_version) << ", server_name "
      << (u.server_name.empty() ? std::string("from connect") : u.server_name) << ", verify_hostname "
      << (u.verify_hostname ? "true" : "false") << '\n';
  out << "    client cert  "
      << (up.client_subject().empty() ? std::string("none")
                                      : up.client_subject() + " (not after " + up.client_not_after() + ")")
      << '\n';
  out << "    truststore   "
      << (u.truststore.empty() ? std::string("system default CAs")
                               : std::to_string(up.truststore_size()) +
                                     (up.truststore_size() == 1 ? " certificate from " : " certificates from ") +
                                     u.truststore.string())
      << '\n';
  out << "    alpn         "
      << (u.alpn.empty() ? std::string("the client's negotiated protocol, if any") : join(u.alpn))
      << '\n';
}

// Balancing, health checks and the PROXY protocol, when they apply.
void print_backend_side(std::ostream& out, const service_config& s) {
  if (s.connect.size() > 1 || s.health_check_interval) {
    out << "  balance        " << to_string(s.balance) << "; out after " << s.max_fails << " failed connect"
        << (s.max_fails == 1 ? "" : "s") << " in " << format_duration(s.fail_window) << " for "
        << format_duration(s.fail_timeout) << "; up to " << s.connect_retries << " retries on other backends\n";
    out << "  health checks  "
        << (s.health_check_interval ? "every " + format_duration(*s.health_check_interval) : std::string("off"))
        << ", host names looked up every " << format_duration(s.resolve_interval) << '\n';
  }
  if (s.proxy_protocol != proxy_protocol_version::off) {
    out << "  proxy_protocol " << to_string(s.proxy_protocol) << " sent to the backend";
    if (s.proxy_protocol == proxy_protocol_version::v2)
      out << " (TLVs: " << (s.proxy_protocol_tlvs.empty() ? std::string("none") : join(s.proxy_protocol_tlvs)) << ")";
    out << '\n';
  }
  if (s.accept_proxy_protocol)
    out << "  accept_proxy_protocol v1/v2 header required from the balancer within "
        << format_duration(s.proxy_protocol_timeout) << '\n';
}

void print_summary(std::ostream& out, const validated_config& v) {
  const auto& rt = *v.runtime;
  out << "configuration " << v.cfg.file.string() << " is valid: " << rt.services.size()
      << (rt.services.size() == 1 ? " service" : " services") << '\n';
  out << "server: log_level " << to_string(rt.server.level) << ", log_format " << to_string(rt.server.format)
      << ", max_connections " << rt.server.max_connections << ", drain_timeout "
      << format_duration(rt.server.drain_timeout) << ", expiry_warning "
      << (rt.server.expiry_warning.count() == 0 ? std::string("off") : format_duration(rt.server.expiry_warning))
      << '\n';
  out << "reload: on SIGHUP" << (rt.server.watch ? ", when a named file changes (watch)" : "");
  if (rt.server.reload_interval) out << ", checked every " << format_duration(*rt.server.reload_interval);
  out << (rt.server.pid_file.empty() ? "" : "; pid_file " + rt.server.pid_file.string()) << '\n';
  if (!rt.server.user.empty() || !rt.server.group.empty())
    out << "privileges: after binding, run as user " << (rt.server.user.empty() ? "(unchanged)" : rt.server.user)
        << ", group " << (rt.server.group.empty() ? "(the user's)" : rt.server.group) << '\n';
  if (!rt.admin.listen) {
    out << "admin: off (set [admin] listen for /healthz, /readyz, /metrics, /status)\n";
  } else if (!rt.admin_tls) {
    out << "admin: http://" << rt.admin.listen->host_port() << " (plain HTTP)\n";
  } else {
    out << "admin: https://" << rt.admin.listen->host_port() << " (certificate "
        << rt.admin_tls->server_certificate().subject
        << (rt.admin.tls.keystore.empty() ? "" : " from keystore " + keystore_text(rt.admin.tls, *rt.admin_tls))
        << ", client certificates "
        << to_string(rt.admin.tls.verify_client) << ")\n";
  }
  for (const auto& entry : rt.services) {
    const service_config& s = entry->config;
    out << "\nservice " << s.name << '\n';
    out << "  accept         " << s.accept.to_string() << '\n';
    if (!s.server_names.empty()) {
      out << "  server_names   " << join(s.server_names) << '\n';
    } else if (std::any_of(rt.services.begin(), rt.services.end(), [&](const auto& other) {
                 return other != entry && !other->config.server_names.empty() &&
                        other->config.accept.host_port() == s.accept.host_port();
               })) {
      out << "  server_names   none: the default for clients whose server name no other service lists\n";
    }
    out << "  connect        " << to_string(s.connect) << '\n';
    if (entry->tls) {
      const auto& cert = entry->tls->server_certificate();
      out << "  verify_client  " << to_string(s.verify_client) << " (verify_depth " << s.verify_depth
          << ", min_tls_version " << to_string(s.min_tls_version) << ")\n";
      out << "  certificate    " << cert.subject << " (issuer " << cert.issuer << ", not after " << cert.not_after
          << (cert.expired ? ", EXPIRED" : "") << ")\n";
      if (!s.keystore.empty()) out << "  keystore       " << keystore_text(s, *entry->tls) << '\n';
      if (s.verify_client != verify_client_mode::none) {
        out << "  truststore     " << entry->tls->truststore_size()
            << (entry->tls->truststore_size() == 1 ? " certificate" : " certificates") << " from "
            << s.truststore.string() << '\n';
        print_whitelist(out, s);
        if (!s.require_client_auth_eku) {
          out << "  client EKU     optional (require_client_auth_eku = false); when present it must allow clientAuth\n";
        }
      }
      print_revocation(out, s, *entry->tls);
      const std::size_t ticket_keys = entry->tls->ticket_key_count();
      out << "  session tickets ";
      if (ticket_keys == 0 && s.session_cache_size > 0)
        out << "in memory, up to " << s.session_cache_size << " sessions (resume on this process only)\n";
      else if (ticket_keys == 0)
        out << "per-process keys (resume on this process only)\n";
      else
        out << ticket_keys << (ticket_keys == 1 ? " key" : " keys") << " from " << s.session_ticket_key_file.string()
            << '\n';
      out << "  timeouts       handshake " << format_duration(s.handshake_timeout) << ", idle "
          << format_duration(s.idle_timeout) << ", connect " << format_duration(s.connect_timeout) << '\n';
    } else {
      out << "  tls            none (plain TCP listener)\n";
      out << "  timeouts       idle " << format_duration(s.idle_timeout) << ", connect "
          << format_duration(s.connect_timeout) << '\n';
    }
    if (!s.alpn.empty() && entry->tls) out << "  alpn           " << join(s.alpn) << " (server preference)\n";
    if (entry->upstream_tls) print_upstream(out, s, *entry->upstream_tls);
    print_backend_side(out, s);
    out << "  max_connections "
        << (s.max_connections ? std::to_string(*s.max_connections) : "global limit only") << '\n';
  }
  for (const auto& w : rt.warnings) out << "\nwarning: " << w << '\n';
}

}  // namespace mtlsd::cli
