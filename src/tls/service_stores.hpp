#pragma once
// Owner: tls module (private). A service's keystore and store truststore
// loaded as its settings name them: the password read from its file or
// environment variable, the file read and checked, the entry chosen.
// Problems name the config key to fix; server_context turns them into
// config_errors at that key's position.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "mtlsd/config/config.hpp"
#include "mtlsd/tls/keystore.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "mtlsd/tls/secret.hpp"

namespace mtlsd::tls::detail {

// The whole of a regular file of at most `limit` bytes, in memory that is
// wiped when released; `error` set and nothing returned when it cannot be read.
std::optional<secret_bytes> read_small_file(const std::filesystem::path& file, off_t limit, std::string& error);

// The first line of a password file (files written with `echo` end in a
// newline); `error` set and nothing returned when it cannot be read.
std::optional<secret_bytes> read_password_file(const std::filesystem::path& file, std::string& error);

struct store_problem {
  std::string key;  // "keystore", "keystore_password_env", ...
  std::string message;
};

struct keystore_credentials {
  ossl::pkey_ptr key;
  std::vector<ossl::x509_ptr> chain;  // leaf first
  std::string alias;
  store_format format = store_format::pkcs12;
};

// service.keystore's chosen entry, with its key decrypted; nullopt after
// appending to `problems`.
std::optional<keystore_credentials> load_keystore(const service_config& service, std::vector<store_problem>& problems);

struct store_truststore {
  std::vector<ossl::x509_ptr> certificates;
  store_format format = store_format::pkcs12;
};

// Whether service.truststore is a PKCS#12, JKS or JCEKS file (not PEM, not a directory).
bool truststore_is_store(const service_config& service);

// The trusted-certificate entries of a store truststore; private-key entries
// are skipped with a warning.
std::optional<store_truststore> load_store_truststore(const service_config& service,
                                                      std::vector<store_problem>& problems,
                                                      std::vector<std::string>& warnings);

}  // namespace mtlsd::tls::detail
