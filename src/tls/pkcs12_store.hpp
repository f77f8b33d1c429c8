#pragma once
// Owner: tls module (private). PKCS#12 files read bag by bag with OpenSSL,
// keeping what PKCS12_parse() throws away: every private key with its alias
// (friendlyName) and the certificates keytool marked as trusted.

#include <span>
#include <string_view>

#include "mtlsd/tls/keystore.hpp"

namespace mtlsd::tls::detail {

store_read read_pkcs12(std::span<const std::uint8_t> bytes, std::string_view password);

// The private key of a PKCS#12 shrouded key bag (an EncryptedPrivateKeyInfo).
ossl::pkey_ptr decrypt_pkcs12_key(std::span<const std::uint8_t> encrypted_key, std::string_view password,
                                  std::string& error);

}  // namespace mtlsd::tls::detail
