#pragma once
// Reading CA certificates from a PEM bundle or a directory of PEM files. We
// read directories ourselves rather than use OpenSSL's hashed-directory lookup
// so that operators need no c_rehash step and every file is checked up front.

#include <filesystem>
#include <string>
#include <vector>

#include "mtlsd/tls/openssl.hpp"

namespace mtlsd::tls {

struct truststore_load {
  std::vector<ossl::x509_ptr> certificates;
  std::vector<std::string> errors;  // one per unreadable or unparsable file
};

truststore_load load_truststore(const std::filesystem::path& path);

// Every certificate in a PEM file, in order (leaf first for chain files).
std::vector<ossl::x509_ptr> read_pem_certificates(const std::filesystem::path& file, std::string& error);

}  // namespace mtlsd::tls
