// Owner: config module. SNI names and address sharing between services.
#include "config/server_names.hpp"

#include <algorithm>
#include <map>

#include "config/text_util.hpp"

namespace mtlsd::config_detail {
namespace {

bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// RFC 6066: a server name is a DNS host name, never an IP address literal.
std::optional<std::string> normalise_server_name(const std::string& text, std::string& error) {
  std::string name = ascii_lower(text);
  std::string_view rest = name;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  if (name.empty() || name.size() > 253) {
    error = "invalid server name " + quote(text) + ": 1 to 253 characters";
    return std::nullopt;
  }
  if (rest.find('*') != std::string_view::npos) {
    error = "invalid server name " + quote(text) +
            ": '*' is only allowed as the whole leftmost label (\"*.partner.example\")";
    return std::nullopt;
  }
  std::size_t labels = 0;
  bool all_numeric = true;
  for (std::size_t start = 0;; ++labels) {
    const std::size_t dot = rest.find('.', start);
    const std::string_view label = rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!valid_label(label)) {
      error = "invalid server name " + quote(text) + ": labels are 1 to 63 of a-z 0-9 - _, separated by single dots";
      return std::nullopt;
    }
    all_numeric = all_numeric && label.find_first_not_of("0123456789") == std::string_view::npos;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (all_numeric) {
    error = "invalid server name " + quote(text) + ": clients never send an IP address as SNI (RFC 6066)";
    return std::nullopt;
  }
  if (name.starts_with("*.") && labels < 1) {
    error = "invalid server name " + quote(text) + ": a wildcard needs at least two labels after \"*.\"";
    return std::nullopt;
  }
  return name;
}

// Whether one name can match a server name the other matches too. Both are
// normalised; "*.a.b" matches exactly one extra label in front of "a.b".
bool overlaps(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto covered_by_wildcard = [](const std::string& wildcard, const std::string& name) {
    if (!wildcard.starts_with("*.") || name.starts_with("*.")) return false;
    const std::string_view suffix = std::string_view(wildcard).substr(1);  // ".a.b"
    if (!std::string_view(name).ends_with(suffix) || name.size() == suffix.size()) return false;
    return std::string_view(name).substr(0, name.size() - suffix.size()).find('.') == std::string_view::npos;
  };
  return covered_by_wildcard(a, b) || covered_by_wildcard(b, a);
}

bool is_ipv4_literal(const std::string& host) {
  return host.find_first_not_of("0123456789.") == std::string::npos;
}

// Whether binding both would clash: equal hosts, or a wildcard that covers the
// other (Linux binds "::" dual-stack, so it covers IPv4 too).
// Listeners bind IPv6 addresses IPv6-only, so "::" overlaps only IPv6 hosts
// and "0.0.0.0" only IPv4 hosts; "[::]:443" and "0.0.0.0:443" coexist.
bool same_listener(const endpoint_address& a, const endpoint_address& b) {
  if (a.port != b.port || a.port == 0) return false;
  if (a.host == b.host) return true;
  const auto covers = [](const endpoint_address& wildcard, const endpoint_address& other) {
    if (wildcard.host == "0.0.0.0") return is_ipv4_literal(other.host);
    if (wildcard.host == "::") return other.host_is_ipv6_literal();
    return false;
  };
  return covers(a, b) || covers(b, a);
}

std::string line_of(const service_config& svc, const std::string& key) {
  return std::to_string(svc.position_of(key).line);
}

std::string describe(const service_config& svc) {
  return svc.name.empty() ? svc.key_path_prefix : "service " + quote(svc.name);
}

// Settings of the listening socket's first moments, before the client has
// said which server name it wants: they cannot differ between services
// that share it.
struct listener_setting {
  const char* key;
  bool (*same)(const service_config&, const service_config&);
};
constexpr listener_setting listener_settings[] = {
    {"handshake_timeout", [](const service_config& a, const service_config& b) {
       return a.handshake_timeout == b.handshake_timeout;
     }},
    {"session_ticket_key_file", [](const service_config& a, const service_config& b) {
       return a.session_ticket_key_file == b.session_ticket_key_file;
     }},
    {"session_cache_size", [](const service_config& a, const service_config& b) {
       return a.session_cache_size == b.session_cache_size;
     }},
    // The PROXY header comes before the ClientHello.
    {"accept_proxy_protocol", [](const service_config& a, const service_config& b) {
       return a.accept_proxy_protocol == b.accept_proxy_protocol;
     }},
    {"proxy_protocol_timeout", [](const service_config& a, const service_config& b) {
       return a.proxy_protocol_timeout == b.proxy_protocol_timeout;
     }},
};

void check_group(diagnostics& diag, const std::vector<const service_config*>& group) {
  const service_config* fallback = nullptr;
  std::map<std::string, const service_config*> claimed;
  for (const service_config* svc : group) {
    if (svc->server_names.empty()) {
      if (fallback) {
        diag.report(svc->position_of("accept"), svc->key_path_prefix + ".accept",
                    "a second service without server_names on " + quote(svc->accept.host_port()) + " (" +
                        describe(*fallback) + " at line " + line_of(*fallback, "accept") +
                        " is already the default); give one of them server_names");
      }
      fallback = svc;
    }
    for (const auto& name : svc->server_names) {
      for (const auto& [other_name, other] : claimed) {
        if (!overlaps(name, other_name)) continue;
        diag.report(svc->position_of("server_names"), svc->key_path_prefix + ".server_names",
                    "server name " + quote(name) + " overlaps " + quote(other_name) + " of " + describe(*other) +
                        " (line " + line_of(*other, "server_names") + ") on " + quote(svc->accept.host_port()) +
                        "; a client's name must select exactly one service");
        break;
      }
    }
    for (const auto& name : svc->server_names) claimed.emplace(name, svc);
  }
  const service_config& first = *group.front();
  for (std::size_t i = 1; i < group.size(); ++i) {
    const service_config& svc = *group[i];
    for (const auto& setting : listener_settings) {
      if (setting.same(first, svc)) continue;
      diag.report(svc.position_of(setting.key), svc.key_path_prefix + "." + setting.key,
                  "must be the same for every service on " + quote(svc.accept.host_port()) +
                      ": it applies before the client's server name is known (differs from " + describe(first) +
                      ")");
    }
  }
}

}  // namespace

std::optional<std::vector<std::string>> read_server_names(diagnostics& diag, const toml::node& node,
                                                          const std::string& key) {
  auto entries = read_string_array(diag, node, key);
  if (!entries) return std::nullopt;
  if (entries->empty()) {
    diag.report(diag.at(node), key, "empty list; remove the key to make this the address's default service");
    return std::nullopt;
  }
  std::vector<std::string> names;
  bool ok = true;
  for (const auto& entry : *entries) {
    std::string error;
    auto name = normalise_server_name(entry.value, error);
    if (!name) {
      diag.report(entry.where, key, error);
      ok = false;
      continue;
    }
    if (std::find(names.begin(), names.end(), *name) != names.end()) {
      diag.report(entry.where, key, "server name " + quote(*name) + " is listed twice");
      ok = false;
      continue;
    }
    names.push_back(std::move(*name));
  }
  if (!ok) return std::nullopt;
  return names;
}

void check_shared_addresses(diagnostics& diag, const std::vector<service_config>& services,
                            const std::vector<bool>& accept_known) {
  // Groups of services written with the same address; each service joins the
  // first earlier one it overlaps, or is refused.
  std::vector<std::vector<const service_config*>> groups;
  for (std::size_t i = 0; i < services.size(); ++i) {
    if (!accept_known[i]) continue;
    const service_config& svc = services[i];
    bool placed = false;
    for (auto& group : groups) {
      const service_config& head = *group.front();
      if (!same_listener(head.accept, svc.accept)) continue;
      placed = true;
      const bool shareable = head.accept.scheme == transport::tls && svc.accept.scheme == transport::tls &&
                             ascii_lower(head.accept.host_port()) == ascii_lower(svc.accept.host_port()) &&
                             !(head.server_names.empty() && svc.server_names.empty() && group.size() == 1);
      if (shareable) {
        group.push_back(&svc);
      } else {
        std::string hint;
        if (head.accept.scheme != transport::tls || svc.accept.scheme != transport::tls)
          hint = "; only tls:// services can share an address";
        else if (ascii_lower(head.accept.host_port()) != ascii_lower(svc.accept.host_port()))
          hint = "; services that share a port must write the same address";
        else
          hint = "; to share it, give the services server_names";
        diag.report(svc.position_of("accept"), svc.key_path_prefix + ".accept",
                    "address conflicts with " + describe(head) + " (accept = " + quote(head.accept.to_string()) +
                        " at line " + line_of(head, "accept") + ")" + hint);
      }
      break;
    }
    if (!placed) groups.push_back({&svc});
  }
  for (const auto& group : groups)
    if (group.size() > 1) check_group(diag, group);
}

}  // namespace mtlsd::config_detail
