#include "mtlsd/proxy/proxy_protocol_tlvs.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>

namespace mtlsd::proxy::pp {

namespace {

bool has(std::span<const std::string> selected, std::string_view name) {
  return std::find(selected.begin(), selected.end(), name) != selected.end();
}

tlv text_tlv(std::uint8_t type, std::string_view value) {
  return tlv{type, std::vector<std::uint8_t>(value.begin(), value.end())};
}

// HAProxy's form: the key type's short name and its size, "RSA2048", "EC256".
std::string key_algorithm(X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) return {};
  const char* name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
  if (name == nullptr || std::string_view(name) == "UNDEF") return {};
  std::string out = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC ? "EC" : name;
  return out + std::to_string(EVP_PKEY_get_bits(key));
}

std::string signature_algorithm(X509* cert) {
  const char* name = OBJ_nid2sn(X509_get_signature_nid(cert));
  return name == nullptr ? std::string{} : std::string(name);
}

// The ssl TLV: client flags, verify result (32 bits, 0 = verified), then
// its sub-TLVs (HAProxy's PP2_TYPE_SSL layout).
tlv ssl_tlv(SSL* ssl, const client_identity* identity) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  std::uint8_t client = ssl_client::ssl;
  if (cert != nullptr) {
    client |= ssl_client::cert_sess;
    if (SSL_session_reused(ssl) == 0) client |= ssl_client::cert_conn;
  }
  const auto verify = static_cast<std::uint32_t>(SSL_get_verify_result(ssl));
  std::vector<std::uint8_t> value{client, static_cast<std::uint8_t>(verify >> 24),
                                  static_cast<std::uint8_t>(verify >> 16), static_cast<std::uint8_t>(verify >> 8),
                                  static_cast<std::uint8_t>(verify)};
  append_tlv(value, tlv_type::ssl_version, SSL_get_version(ssl));
  if (identity != nullptr && identity->cn.size() == 1) append_tlv(value, tlv_type::ssl_cn, identity->cn.front());
  if (const char* cipher = SSL_get_cipher_name(ssl)) append_tlv(value, tlv_type::ssl_cipher, cipher);
  if (cert != nullptr) {
    if (auto sig = signature_algorithm(cert); !sig.empty()) append_tlv(value, tlv_type::ssl_sig_alg, sig);
    if (auto key = key_algorithm(cert); !key.empty()) append_tlv(value, tlv_type::ssl_key_alg, key);
  }
  return tlv{tlv_type::ssl, std::move(value)};
}

}  // namespace

built_tlvs build_tlvs(std::span<const std::string> selected, SSL* ssl, const client_identity* identity,
                      std::string_view server_name, std::size_t room) {
  built_tlvs out;
  if (ssl == nullptr) return out;
  if (has(selected, "alpn")) {
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl, &protocol, &length);
    if (length > 0) out.tlvs.push_back(tlv{tlv_type::alpn, std::vector<std::uint8_t>(protocol, protocol + length)});
  }
  if (has(selected, "authority") && !server_name.empty())
    out.tlvs.push_back(text_tlv(tlv_type::authority, server_name));
  if (has(selected, "ssl")) out.tlvs.push_back(ssl_tlv(ssl, identity));
  if (identity != nullptr) {
    if (has(selected, "cert_sha256")) out.tlvs.push_back(text_tlv(tlv_type::cert_sha256, identity->sha256));
    if (has(selected, "spiffe_id"))
      for (const auto& uri : identity->uri) out.tlvs.push_back(text_tlv(tlv_type::spiffe_id, uri));
    if (has(selected, "subject")) out.tlvs.push_back(text_tlv(tlv_type::subject, identity->subject));
    if (has(selected, "issuer")) out.tlvs.push_back(text_tlv(tlv_type::issuer, identity->issuer));
    if (has(selected, "serial")) out.tlvs.push_back(text_tlv(tlv_type::serial, identity->serial));
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (has(selected, "cert_der") && cert != nullptr) {
    const int size = i2d_X509(cert, nullptr);
    if (size > 0) {
      if (v2_payload_size(std::nullopt, out.tlvs) + 3 + static_cast<std::size_t>(size) > room) {
        out.cert_der_omitted = true;
      } else {
        tlv der{tlv_type::cert_der, std::vector<std::uint8_t>(static_cast<std::size_t>(size))};
        unsigned char* p = der.value.data();
        i2d_X509(cert, &p);
        out.tlvs.push_back(std::move(der));
      }
    }
  }
  return out;
}

}  // namespace mtlsd::proxy::pp
