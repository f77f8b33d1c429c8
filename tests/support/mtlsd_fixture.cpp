#include "mtlsd_fixture.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace mtlsd::test {

test_pki::test_pki(std::filesystem::path dir) : dir_(std::move(dir)) {
  cert_spec ca;
  ca.is_ca = true;
  ca.cn = {"mtlsd test client CA"};
  client_ca = make_self_signed(ca);
  ca.cn = {"mtlsd test server CA"};
  server_ca = make_self_signed(ca);

  cert_spec srv;
  srv.cn = {"localhost"};
  srv.dns = {"localhost"};
  srv.ip = {"127.0.0.1", "::1"};
  srv.eku = eku_kind::server_auth;
  server = issue(srv, server_ca);

  write_file(client_ca_file(), client_ca.cert_pem());
  write_file(server_ca_file(), server_ca.cert_pem());
  write_file(server_cert_file(), server.cert_pem());
  write_file(server_key_file(), server.key_pem());
}

issued test_pki::client(cert_spec spec) const {
  if (spec.cn.empty() && spec.ou.empty() && spec.o.empty()) spec.cn = {"client"};
  return issue(spec, client_ca);
}

client_identity test_pki::write_client(const std::string& name, const issued& leaf,
                                       const std::vector<const issued*>& chain) const {
  std::string pem = leaf.cert_pem();
  for (const auto* c : chain) pem += c->cert_pem();
  write_file(dir_ / (name + ".crt"), pem);
  write_file(dir_ / (name + ".key"), leaf.key_pem());
  return client_identity::files(dir_ / (name + ".crt"), dir_ / (name + ".key"));
}

std::string toml_string(std::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string toml_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += toml_string(values[i]);
  }
  out += "]";
  return out;
}

std::string render_config(const config_spec& spec) {
  std::ostringstream out;
  // MTLSD_TEST_WORKERS runs the whole suite at a chosen worker count; unset,
  // the daemon's default applies (one worker per core).
  std::vector<std::string> server_lines = spec.server_lines;
  if (const char* workers = std::getenv("MTLSD_TEST_WORKERS")) {
    const bool explicit_workers = std::any_of(server_lines.begin(), server_lines.end(),
                                              [](const std::string& l) { return l.rfind("workers", 0) == 0; });
    if (!explicit_workers) server_lines.push_back(std::string("workers = ") + workers);
  }
  if (!server_lines.empty()) {
    out << "[server]\n";
    for (const auto& l : server_lines) out << l << '\n';
    out << '\n';
  }
  if (!spec.defaults_lines.empty()) {
    out << "[defaults]\n";
    for (const auto& l : spec.defaults_lines) out << l << '\n';
    out << '\n';
  }
  for (const auto& s : spec.services) {
    out << "[[service]]\n";
    out << "name = " << toml_string(s.name) << '\n';
    out << "accept = " << toml_string(s.accept) << '\n';
    if (s.connect_list.empty())
      out << "connect = " << toml_string(s.connect) << '\n';
    else
      out << "connect = " << toml_array(s.connect_list) << '\n';
    if (s.tls_files) {
      if (!s.verify_client.empty()) out << "verify_client = " << toml_string(s.verify_client) << '\n';
      out << "cert = " << toml_string(s.cert) << '\n';
      out << "key = " << toml_string(s.key) << '\n';
      if (s.verify_client != "none" && !s.truststore.empty()) {
        out << "truststore = " << toml_string(s.truststore) << '\n';
      }
    }
    for (const auto& l : s.lines) out << l << '\n';
    if (!s.allow.empty()) {
      out << "\n[service.allow]\n";
      for (const auto& l : s.allow) out << l << '\n';
    }
    out << '\n';
  }
  return out.str();
}

std::string log_line::get(const std::string& key) const {
  auto it = fields.find(key);
  return it == fields.end() ? std::string() : it->second;
}

namespace {

// Reverses the daemon's quoting: "..." with \" \\ \n \r \t \xHH escapes.
std::string unquote(std::string_view text, std::size_t& pos) {
  std::string out;
  ++pos;  // opening quote
  while (pos < text.size() && text[pos] != '"') {
    char c = text[pos++];
    if (c == '\\' && pos < text.size()) {
      const char e = text[pos++];
      switch (e) {
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'x': {
          unsigned value = 0;
          if (pos + 2 <= text.size()) {
            std::from_chars(text.data() + pos, text.data() + pos + 2, value, 16);
            pos += 2;
          }
          c = static_cast<char>(value);
          break;
        }
        default: c = e;
      }
    }
    out += c;
  }
  if (pos < text.size()) ++pos;  // closing quote
  return out;
}

std::string next_word(std::string_view text, std::size_t& pos) {
  const auto end = text.find(' ', pos);
  std::string word(text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
  pos = end == std::string_view::npos ? text.size() : end + 1;
  return word;
}

}  // namespace

std::optional<log_line> parse_log_line(const std::string& line) {
  log_line out;
  std::size_t pos = 0;
  out.ts = next_word(line, pos);
  out.level = next_word(line, pos);
  out.event = next_word(line, pos);
  // A timestamp starts with a digit; anything else is not a log line.
  if (out.ts.empty() || !std::isdigit(static_cast<unsigned char>(out.ts[0])) || out.event.empty()) {
    return std::nullopt;
  }
  while (pos < line.size()) {
    const auto eq = line.find('=', pos);
    if (eq == std::string::npos) break;
    std::string key = line.substr(pos, eq - pos);
    pos = eq + 1;
    std::string value;
    if (pos < line.size() && line[pos] == '"') {
      value = unquote(line, pos);
      if (pos < line.size() && line[pos] == ' ') ++pos;
    } else {
      value = next_word(line, pos);
    }
    out.fields[std::move(key)] = std::move(value);
  }
  return out;
}

line_matcher log_event(std::string event, std::map<std::string, std::string> fields) {
  std::string description = event;
  for (const auto& [k, v] : fields) description += " " + k + "=" + v;
  return line_matcher(
      [event, fields](const std::string& line) {
        // Cheap filter first: most lines are other events.
        if (line.find(event) == std::string::npos) return false;
        auto parsed = parse_log_line(line);
        if (!parsed || parsed->event != event) return false;
        for (const auto& [k, v] : fields) {
          if (parsed->get(k) != v || !parsed->has(k)) return false;
        }
        return true;
      },
      description);
}

namespace {

// A system call the sandbox's filter refuses fails with EPERM either way;
// this makes the daemon also say so on stderr ("sandbox_blocked syscall=N"),
// which mtlsd_test's TearDown turns into a test failure: the suite then
// checks the filter's allow-list against everything it exercises.
process_options with_sandbox_report(process_options options) {
  options.extra_env.push_back("MTLSD_SANDBOX_DEBUG=1");
  return options;
}

}  // namespace

mtlsd_daemon::mtlsd_daemon(const std::string& binary, const std::filesystem::path& config,
                           std::chrono::milliseconds ready_timeout)
    : mtlsd_daemon(std::vector<std::string>{binary, "run", "--config", config.string()}, process_options{},
                   ready_timeout) {}

mtlsd_daemon::mtlsd_daemon(std::vector<std::string> argv, process_options options,
                           std::chrono::milliseconds ready_timeout)
    : process_(std::make_unique<process>(std::move(argv), with_sandbox_report(std::move(options)))) {
  process_->wait_for_line(log_event("ready"), ready_timeout);
  for (const auto& text : process_->matching_lines(log_event("listening"))) {
    auto line = parse_log_line(text);
    const std::string addr = line->get("addr");
    const auto colon = addr.rfind(':');
    if (colon == std::string::npos) throw harness_error("unparsable listening line: " + text);
    std::string host = addr.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
    listeners_[line->get("svc")] = {host, static_cast<std::uint16_t>(port)};
  }
}

std::uint16_t mtlsd_daemon::port(const std::string& service) const {
  auto it = listeners_.find(service);
  if (it == listeners_.end()) throw harness_error("no listening line for service " + service + "\n" + output());
  return it->second.second;
}

std::string mtlsd_daemon::host(const std::string& service) const {
  auto it = listeners_.find(service);
  if (it == listeners_.end()) throw harness_error("no listening line for service " + service + "\n" + output());
  return it->second.first;
}

log_line mtlsd_daemon::wait_event(const std::string& event, std::map<std::string, std::string> fields,
                                  std::chrono::milliseconds timeout) {
  const std::string text = process_->wait_for_line(log_event(event, std::move(fields)), timeout);
  return *parse_log_line(text);
}

std::vector<log_line> mtlsd_daemon::wait_events(const std::string& event, std::map<std::string, std::string> fields,
                                               std::size_t count, std::chrono::milliseconds timeout) {
  std::vector<log_line> out;
  for (const auto& text : process_->wait_for_lines(log_event(event, std::move(fields)), count, timeout)) {
    out.push_back(*parse_log_line(text));
  }
  return out;
}

std::vector<log_line> mtlsd_daemon::events(const std::string& event, std::map<std::string, std::string> fields) const {
  std::vector<log_line> out;
  for (const auto& text : process_->matching_lines(log_event(event, std::move(fields)))) {
    out.push_back(*parse_log_line(text));
  }
  return out;
}

}  // namespace mtlsd::test
