#pragma once
// Which service's TLS context answers a client, by the server name it sent
// (SNI), for services sharing one listening socket. Built with the
// configuration generation and read-only afterwards, so every worker can
// consult it during handshakes without a lock.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mtlsd::tls {

class server_context;

class sni_table {
 public:
  // `names` as validated by the config loader: lowercase, "*.x" wildcards.
  // Empty `names`: the default, for clients without SNI or with a name no
  // other entry claims.
  void add(const std::vector<std::string>& names, const server_context* context);

  // Exact names first, then the wildcard one label up, then the default;
  // null when nothing matches. `server_name` is compared case-insensitively.
  const server_context* select(std::string_view server_name) const;

  // "api.example.com, *.partner.example" — for the detail of a refusal.
  std::string served_names() const;

 private:
  std::unordered_map<std::string, const server_context*> exact_;
  std::unordered_map<std::string, const server_context*> wildcard_;  // "*.a.b" stored as "a.b"
  std::vector<std::string> listed_;
  const server_context* default_ = nullptr;
};

}  // namespace mtlsd::tls
