#pragma once
// Running the real mtlsd for end-to-end tests: a test PKI written to disk, a
// config built from small specs, the daemon started and its ephemeral ports
// read from its `listening` log lines, and helpers to pick log lines apart.
// Owned by the test-harness helper.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki.hpp"
#include "process.hpp"
#include "tls_client.hpp"

namespace mtlsd::test {

// Two CAs (clients, server), a server certificate for localhost/127.0.0.1/::1,
// all written as PEM files into `dir`.
class test_pki {
 public:
  explicit test_pki(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path client_ca_file() const { return dir_ / "client-ca.crt"; }
  std::filesystem::path server_ca_file() const { return dir_ / "server-ca.crt"; }
  std::filesystem::path server_cert_file() const { return dir_ / "server.crt"; }
  std::filesystem::path server_key_file() const { return dir_ / "server.key"; }

  // A client certificate issued by the client CA; CN "client" unless the spec says otherwise.
  issued client(cert_spec spec = {}) const;
  // Writes `<name>.crt` (leaf, then `chain`) and `<name>.key`; returns those paths.
  client_identity write_client(const std::string& name, const issued& leaf,
                               const std::vector<const issued*>& chain = {}) const;

  issued client_ca;
  issued server_ca;
  issued server;

 private:
  std::filesystem::path dir_;
};

// Config text. Values in `lines`/`allow`/`server_lines` are raw TOML lines.
struct service_spec {
  std::string name = "svc";
  std::string accept = "tls://127.0.0.1:0";
  std::string connect;                   // e.g. "tcp://127.0.0.1:PORT"
  std::string verify_client = "require";  // empty: key omitted
  bool tls_files = true;                 // write cert/key (and truststore unless verify_client = none)
  std::string cert = "server.crt";
  std::string key = "server.key";
  std::string truststore = "client-ca.crt";
  std::vector<std::string> lines;        // e.g. R"(idle_timeout = "1s")"
  std::vector<std::string> allow;        // lines of [service.allow]; empty: no table
  std::vector<std::string> connect_list;  // several backends: written as an array instead of `connect`
};

struct config_spec {
  std::vector<std::string> server_lines;
  std::vector<std::string> defaults_lines;
  std::vector<service_spec> services;
};

std::string render_config(const config_spec& spec);
std::string toml_string(std::string_view value);                  // "..." with escapes
std::string toml_array(const std::vector<std::string>& values);   // ["a", "b"]

// One parsed text log line: `<ts> <level> <event> key=value ...`.
struct log_line {
  std::string ts, level, event;
  std::map<std::string, std::string> fields;  // values unquoted and unescaped
  bool has(const std::string& key) const { return fields.count(key) != 0; }
  std::string get(const std::string& key) const;
};
std::optional<log_line> parse_log_line(const std::string& line);

// Matches lines of `event` whose fields include every key=value in `fields`
// (compared after unquoting).
line_matcher log_event(std::string event, std::map<std::string, std::string> fields = {});

// The daemon, started with `run --config FILE`, ready once it logged `ready`.
class mtlsd_daemon {
 public:
  mtlsd_daemon(const std::string& binary, const std::filesystem::path& config,
               std::chrono::milliseconds ready_timeout = 10s);
  // Any command line that ends in mtlsd (a wrapper that execs it, e.g. the
  // socket-activation tool), with its own environment additions.
  mtlsd_daemon(std::vector<std::string> argv, process_options options,
               std::chrono::milliseconds ready_timeout = 10s);

  process& proc() { return *process_; }
  // The bound port of a service (from its `listening` line); throws if unknown.
  std::uint16_t port(const std::string& service) const;
  std::string host(const std::string& service) const;

  // Waits for a log event; returns it parsed. Throws harness_error (with the
  // daemon's output) on timeout.
  log_line wait_event(const std::string& event, std::map<std::string, std::string> fields = {},
                      std::chrono::milliseconds timeout = 10s);
  // Waits until `count` such events were logged (in total); returns them all.
  std::vector<log_line> wait_events(const std::string& event, std::map<std::string, std::string> fields,
                                    std::size_t count, std::chrono::milliseconds timeout = 10s);
  // What was logged so far (no waiting).
  std::vector<log_line> events(const std::string& event, std::map<std::string, std::string> fields = {}) const;

  std::string output() const { return process_->all_output(); }

 private:
  std::unique_ptr<process> process_;
  std::map<std::string, std::pair<std::string, std::uint16_t>> listeners_;
};

}  // namespace mtlsd::test
