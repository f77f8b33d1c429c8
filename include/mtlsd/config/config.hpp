#pragma once
// The configuration as plain values. Produced by the loader (loader.hpp),
// consumed read-only by everything else; nothing here does I/O.

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/config/address.hpp"
#include "mtlsd/config/duration.hpp"

namespace mtlsd {

enum class log_level { trace, debug, info, warn, error };
enum class log_format { text, json };
enum class verify_client_mode { none, want, require };
enum class tls_version { tls1_2, tls1_3 };
// What a CRL past its nextUpdate means for the clients of its issuer.
enum class crl_stale_mode { reject, warn };
enum class ocsp_mode { off, soft, hard };
// The PROXY protocol header sent to the backend before any client byte.
enum class proxy_protocol_version { off, v1, v2 };
// How a service with several backends picks one per connection.
enum class balance_mode { round_robin, least_connections, random_two };

std::string_view to_string(log_level);
std::string_view to_string(log_format);
std::string_view to_string(verify_client_mode);
std::string_view to_string(tls_version);
std::string_view to_string(crl_stale_mode);
std::string_view to_string(ocsp_mode);
std::string_view to_string(proxy_protocol_version);
// The names proxy_protocol_tlvs accepts (docs/backends.md), and the set sent
// when the key is absent: every one but cert_der (a whole certificate per
// connection is rarely wanted).
std::span<const std::string_view> proxy_protocol_tlv_names();
std::vector<std::string> default_proxy_protocol_tlvs();
std::string_view to_string(balance_mode);

// Where a key was written, so that errors found after loading (a key that does
// not match its certificate, say) still point at the line that caused them.
struct source_position {
  std::string file;
  int line = 0;
  int column = 0;
};

// [service.allow]: a client certificate is admitted when it matches ANY entry
// of ANY field. Values are stored as validated and normalised by the loader:
// sha256 as 64 lowercase hex digits without colons, ip in inet_ntop form.
// Any spiffe_* entry makes every client leaf subject to the X.509-SVID rules
// (docs/identity.md); spiffe_id entries are exact IDs or "<id>/*" prefixes.
struct allow_rules {
  std::vector<std::string> cn, ou, o, dns, uri, ip, email, sha256;
  std::vector<std::string> spiffe_trust_domain, spiffe_id;
  bool empty() const;
  std::size_t size() const;  // total number of entries over all fields
};

struct server_config {
  log_level level = log_level::info;
  log_format format = log_format::text;
  std::size_t max_connections = 10000;
  duration drain_timeout = std::chrono::seconds(30);
  std::size_t workers = 0;  // event-loop threads; 0: one per CPU core

  // Reload: on SIGHUP always; also when a file the config names changes
  // (`watch`, inotify, debounced) and/or by polling every `reload_interval`.
  bool watch = false;
  std::optional<duration> reload_interval;  // nullopt: no polling
  std::filesystem::path pid_file;          // empty: none written (absolute after loading)
  // A loaded certificate (server, truststore CA, admin) that expires within
  // this is logged at start-up, after every reload and once a day; 0: never.
  duration expiry_warning = std::chrono::hours(24 * 30);
  // Dropped to after binding and reading keys when started as root; empty: keep.
  std::string user;
  std::string group;
  // CRLs fetched over HTTP (crl_url, crl_from_cdp): where the last good copy
  // of each is kept (absolute after loading), and the longest wait between
  // two fetches of one URL.
  std::filesystem::path crl_cache_dir = "/var/cache/mtlsd/crl";
  duration crl_refresh_interval = std::chrono::hours(1);
  // A core dump of mtlsd holds its private keys: off unless asked for
  // (docs/security.md). Applied at start-up only.
  bool core_dumps = false;
  // Landlock + seccomp self-confinement after start-up (docs/security.md);
  // false: none. Restart-only: a sandbox cannot be widened or lifted.
  bool sandbox = true;
};


// [service.upstream]: the TLS client side towards tls:// backends
// (docs/backends.md). Meaningful only when the service's connect is tls://.
struct upstream_tls_config {
  // The client certificate presented to the backend: cert/key (PEM), or a
  // PKCS#12/JKS keystore as on the accept side. All empty: none presented.
  std::filesystem::path cert;               // absolute after loading
  std::filesystem::path key;                // absolute after loading
  std::filesystem::path key_password_file;  // empty when the key is not encrypted
  std::filesystem::path keystore;
  std::filesystem::path keystore_password_file;
  std::string keystore_password_env;
  std::string keystore_alias;
  // CAs the backend's certificate must chain to; empty: the system's default CAs.
  std::filesystem::path truststore;
  std::filesystem::path truststore_password_file;
  std::string truststore_password_env;
  std::string server_name;     // SNI sent, and the name verified; empty: the host in connect
  bool verify_hostname = true;  // the backend certificate's SAN DNS/IP must match server_name
  tls_version min_tls_version = tls_version::tls1_2;
  // Offered to the backend; empty: the protocol the client negotiated, if any.
  std::vector<std::string> alpn;
};

struct service_config {
  std::string name;
  endpoint_address accept;
  // One or more backends, all of the same scheme: tcp:// plain, tls:// TLS
  // origination with [service.upstream]. Never empty after a successful load.
  std::vector<endpoint_address> connect;

  // TLS settings; meaningful only when accept.scheme == transport::tls.
  verify_client_mode verify_client = verify_client_mode::require;
  std::filesystem::path cert;               // absolute after loading
  std::filesystem::path key;                // absolute after loading
  std::filesystem::path key_password_file;  // empty when the key is not encrypted
  std::filesystem::path truststore;         // PEM bundle or directory; empty when verify_client = none
  int verify_depth = 4;                     // intermediates allowed between leaf and anchor
  tls_version min_tls_version = tls_version::tls1_2;
  duration handshake_timeout = std::chrono::seconds(10);
  std::optional<allow_rules> allow;         // nullopt: any certificate that chains to the truststore
  // SNI routing: the client's server name selects this service among those
  // sharing its accept address. Lowercase; "*.x" matches one extra leftmost
  // label. Empty: the address's default service (at most one per address).
  std::vector<std::string> server_names;
  // Session-ticket keys shared with other instances; empty: OpenSSL's random
  // per-context keys, so tickets resume only on this process.
  std::filesystem::path session_ticket_key_file;
  // Without session_ticket_key_file: sessions kept in this process's memory
  // (tickets refer to them); 0 = none kept, tickets carry the session.
  std::size_t session_cache_size = 5000;

  duration idle_timeout = std::chrono::seconds(300);
  duration connect_timeout = std::chrono::seconds(5);
  std::optional<std::size_t> max_connections;  // nullopt: only the global limit applies
  // The client leaf must carry extendedKeyUsage with clientAuth; false also
  // admits a leaf without the extension (one that has it still needs clientAuth).
  bool require_client_auth_eku = true;
  // Secret files (key, keystore, their password files, session ticket keys,
  // the upstream ones) that others can read refuse the start-up or reload;
  // true turns that into a warning (docs/security.md).
  bool allow_insecure_key_permissions = false;

  // A PKCS#12 or JKS keystore instead of cert/key (format told by content,
  // see docs/keystores.md): its private-key entry's chain is served and its
  // key, protected by the store password, signs. Empty: cert/key are used.
  std::filesystem::path keystore;                // absolute after loading
  std::filesystem::path keystore_password_file;  // first line is the password; or:
  std::string keystore_password_env;             // the environment variable holding it
  std::string keystore_alias;                    // empty: the store's only private-key entry
  // The password of a PKCS#12 or JKS truststore (unused for PEM).
  std::filesystem::path truststore_password_file;
  std::string truststore_password_env;

  // Key name ("cert", "allow.cn", ...) -> where its effective value was written
  // (in the service block or in [defaults]).
  std::map<std::string, source_position> positions;

  // "service[partner-api]" or, for a block without a usable name, "service[3]".
  std::string key_path_prefix;

  source_position position_of(const std::string& key) const;  // falls back to the block's position

  // Revocation (docs/revocation.md); TLS only. CRL files, PEM (one or more
  // CRLs each) or DER, absolute after loading; empty: no revocation checking.
  // Meaningful with verify_client want/require only.
  std::vector<std::filesystem::path> crl;
  crl_stale_mode crl_stale = crl_stale_mode::reject;
  // A DER OCSP response for the server certificate, stapled for clients that
  // ask (status_request); empty: nothing stapled.
  std::filesystem::path ocsp_staple_file;
  // After each successful reload, judge live connections of this service
  // again under the new rules (truststore, CRLs, whitelist); refused ones are closed.
  bool reevaluate_live = true;
  // OCSP for the client's own certificate, asked during the handshake
  // without blocking the event loop: off, soft (admit when no answer can be
  // had) or hard (refuse then). The responder is the certificate's AIA
  // unless ocsp_url names one; answers are cached until their nextUpdate.
  ocsp_mode ocsp = ocsp_mode::off;
  std::string ocsp_url;  // empty: from the certificate
  duration ocsp_timeout = std::chrono::seconds(3);
  // CRLs fetched in the background (docs/revocation.md): http:// URLs as
  // configured (validated by the loader), and whether the http:// URLs in the
  // cRLDistributionPoints of the truststore's certificates are fetched too.
  // Each URL's last good CRL is read from crl_cache_dir like a `crl` file.
  std::vector<std::string> crl_url;
  bool crl_from_cdp = false;
  std::filesystem::path crl_cache_dir;  // [server] crl_cache_dir, copied by the loader

  // Backend side (docs/backends.md).
  upstream_tls_config upstream;
  // ALPN protocols offered to clients on a tls:// accept, in preference
  // order; empty: no ALPN.
  std::vector<std::string> alpn;
  // PROXY protocol header sent to the backend, and which optional v2 TLVs it
  // carries (names as in docs/backends.md).
  proxy_protocol_version proxy_protocol = proxy_protocol_version::off;
  std::vector<std::string> proxy_protocol_tlvs;
  // Clients arrive through an L4 balancer that sends a PROXY v1/v2 header
  // first; its address replaces the peer's in logs, limits and headers.
  bool accept_proxy_protocol = false;
  duration proxy_protocol_timeout = std::chrono::seconds(5);
  // Several backends: selection, passive and active health, re-resolution.
  balance_mode balance = balance_mode::round_robin;
  std::size_t max_fails = 1;                                // failed connects within fail_window ...
  duration fail_window = std::chrono::seconds(10);
  duration fail_timeout = std::chrono::seconds(10);         // ... take a backend out this long
  std::size_t connect_retries = 2;                          // other backends tried after a failed connect
  std::optional<duration> health_check_interval;            // nullopt: no active checks
  duration resolve_interval = std::chrono::seconds(30);     // host names looked up again this often
};

// [admin]: the operations endpoint (/healthz, /readyz, /metrics, /status).
// Absent `listen`: no endpoint. With `cert`/`key` it speaks TLS; with a
// truststore it can require client certificates like any service. The TLS
// fields reuse service_config (name "admin", accept = listen with tls:// or
// tcp://), so the admin endpoint is checked by the same code as services.
struct admin_config {
  std::optional<endpoint_address> listen;  // scheme tls when cert is set, else tcp
  service_config tls;                      // meaningful when listen->scheme == tls
};

struct config {
  std::filesystem::path file;  // absolute path of the file it was loaded from
  server_config server;
  admin_config admin;
  std::vector<service_config> services;
};

}  // namespace mtlsd
