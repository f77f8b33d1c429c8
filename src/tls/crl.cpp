#include "mtlsd/tls/crl.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iterator>

#include "mtlsd/identity/identity.hpp"

namespace mtlsd::tls {
namespace {

std::string extension_name(X509_EXTENSION* ext) {
  char text[128];
  const int length = OBJ_obj2txt(text, sizeof text, X509_EXTENSION_get_object(ext), 0);
  return length > 0 ? std::string(text) : std::string("unknown extension");
}

bool pem_exhausted() {
  // Running out of PEM blocks ends a read loop with "no start line"; any
  // other error is a malformed block.
  const unsigned long last = ERR_peek_last_error();
  return last == 0 || (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE);
}

std::string stale_warning(const crl_summary& s, crl_stale_mode mode) {
  std::string text = "CRL of \"" + s.issuer + "\" in " + s.file + " is past its nextUpdate " + s.next_update + ": ";
  if (mode == crl_stale_mode::reject)
    return text + "clients whose chain it covers are refused (crl_stale) until a newer CRL is loaded "
                  "(crl_stale = \"reject\")";
  return text + "clients whose chain it covers are admitted without a current revocation check, and such "
                "handshakes log crl_stale at most once a minute (crl_stale = \"warn\")";
}

// The truststore CAs whose subject is the CRL's issuer.
std::vector<X509*> candidate_issuers(X509_STORE* truststore, X509_CRL* crl) {
  std::vector<X509*> found;
  if (!truststore) return found;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(truststore);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
    if (cert && X509_NAME_cmp(X509_get_subject_name(cert), X509_CRL_get_issuer(crl)) == 0) found.push_back(cert);
  }
  return found;
}

void check_one(X509_CRL* crl, crl_summary& summary, X509_STORE* truststore, std::int64_t now, crl_load& out) {
  const std::string named = "CRL of \"" + summary.issuer + "\" in " + summary.file;
  if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
    out.errors.push_back(named + " is a delta CRL; give the complete CRL (delta CRLs are not used)");
    return;
  }
  if (const std::string ext = unsupported_critical_extension(crl); !ext.empty()) {
    out.errors.push_back(named + " has a critical extension mtlsd cannot process (" + ext +
                         "); OpenSSL would refuse every client it covers");
    return;
  }
  const auto issuers = candidate_issuers(truststore, crl);
  if (issuers.empty()) {
    out.warnings.push_back(named + " is not issued by a truststore CA: its signature is checked in each handshake, "
                                   "against the intermediate CA certificate the client sends");
  } else {
    X509* signer = nullptr;
    for (X509* ca : issuers) {
      EVP_PKEY* key = X509_get0_pubkey(ca);
      if (key && X509_CRL_verify(crl, key) == 1) {
        signer = ca;
        break;
      }
    }
    ERR_clear_error();
    if (!signer) {
      out.errors.push_back(named + ": signature does not verify with the key of the truststore CA \"" +
                           summary.issuer + "\"");
      return;
    }
    // OpenSSL refuses such a CRL in every handshake (keyUsage without cRLSign).
    if ((X509_get_key_usage(signer) & KU_CRL_SIGN) == 0) {
      out.errors.push_back(named + ": the issuing CA's keyUsage does not allow signing CRLs (cRLSign)");
      return;
    }
    summary.issuer_trusted = true;
  }
  if (summary.this_update_unix > now)
    out.warnings.push_back(named + " is not valid before its thisUpdate " + summary.this_update +
                           ": until then, clients whose chain it covers are refused (revocation_unknown)");
}

}  // namespace

std::vector<crl_ptr> parse_crls(std::string_view bytes, std::string& error) {
  std::vector<crl_ptr> crls;
  if (bytes.empty()) {
    error = "empty file";
    return crls;
  }
  ERR_clear_error();
  if (bytes.find("-----BEGIN") != std::string_view::npos) {
    ossl::bio_ptr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    if (!bio) {
      error = ossl::drain_errors("out of memory");
      return crls;
    }
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) crls.emplace_back(crl);
    if (!pem_exhausted()) {
      error = "malformed PEM CRL: " + ossl::drain_errors();
      crls.clear();
    } else if (crls.empty()) {
      error = "holds no PEM CRL (-----BEGIN X509 CRL-----)";
    }
    ERR_clear_error();
    return crls;
  }
  const auto* cursor = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = cursor + bytes.size();
  crl_ptr crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(bytes.size())));
  if (!crl) {
    error = "neither PEM nor a DER CRL: " + ossl::drain_errors();
  } else if (cursor != end) {
    error = "DER CRL followed by " + std::to_string(end - cursor) + " unexpected bytes";
  } else {
    crls.push_back(std::move(crl));
  }
  ERR_clear_error();
  return crls;
}

std::vector<crl_ptr> read_crl_file(const std::filesystem::path& file, std::string& error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = "cannot read CRL file " + file.string();
    return {};
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto crls = parse_crls(bytes, error);
  if (!error.empty()) error = "cannot load CRL file " + file.string() + ": " + error;
  return crls;
}

std::string unsupported_critical_extension(X509_CRL* crl) {
  // The extensions OpenSSL 3.0 handles when marked critical (x_crl.c); any
  // other makes it flag the CRL, and verification then fails for every chain
  // the CRL covers with "unhandled critical CRL extension".
  for (int i = 0; i < X509_CRL_get_ext_count(crl); ++i) {
    X509_EXTENSION* ext = X509_CRL_get_ext(crl, i);
    if (!X509_EXTENSION_get_critical(ext)) continue;
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_issuing_distribution_point || nid == NID_authority_key_identifier || nid == NID_delta_crl)
      continue;
    return extension_name(ext);
  }
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
    for (int j = 0; j < X509_REVOKED_get_ext_count(entry); ++j) {
      X509_EXTENSION* ext = X509_REVOKED_get_ext(entry, j);
      if (!X509_EXTENSION_get_critical(ext)) continue;
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_certificate_issuer) continue;
      return extension_name(ext) + " in the entry for serial " + serial_hex(X509_REVOKED_get0_serialNumber(entry));
    }
  }
  return {};
}

crl_summary summarize_crl(X509_CRL* crl, const std::string& file) {
  crl_summary s;
  s.file = file;
  s.issuer = distinguished_name(X509_CRL_get_issuer(crl));
  s.this_update = ossl::iso8601(X509_CRL_get0_lastUpdate(crl));
  s.this_update_unix = ossl::unix_time(X509_CRL_get0_lastUpdate(crl));
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl)) {
    s.next_update = ossl::iso8601(next);
    s.next_update_unix = ossl::unix_time(next);
  }
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  s.revoked = entries ? static_cast<std::size_t>(sk_X509_REVOKED_num(entries)) : 0;
  return s;
}

std::string crl_reason_name(int code) {
  switch (code) {
    case 0: return "unspecified";
    case 1: return "keyCompromise";
    case 2: return "cACompromise";
    case 3: return "affiliationChanged";
    case 4: return "superseded";
    case 5: return "cessationOfOperation";
    case 6: return "certificateHold";
    case 8: return "removeFromCRL";
    case 9: return "privilegeWithdrawn";
    case 10: return "aACompromise";
    default: return "reason " + std::to_string(code);
  }
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  if (!serial) return "?";
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (!bn) return "?";
  char* hex = BN_bn2hex(bn);
  BN_free(bn);
  if (!hex) return "?";
  std::string text(hex);
  OPENSSL_free(hex);
  return text;
}

crl_load load_crls(const std::vector<std::filesystem::path>& files, X509_STORE* truststore, crl_stale_mode mode,
                   std::int64_t now) {
  crl_load out;
  for (const auto& file : files) {
    std::string error;
    auto crls = read_crl_file(file, error);
    if (!error.empty()) {
      out.errors.push_back(std::move(error));
      continue;
    }
    for (auto& crl : crls) {
      crl_summary summary = summarize_crl(crl.get(), file.string());
      const std::size_t errors_before = out.errors.size();
      check_one(crl.get(), summary, truststore, now, out);
      if (out.errors.size() != errors_before) continue;
      if (summary.stale_at(now)) out.warnings.push_back(stale_warning(summary, mode));
      out.summaries.push_back(std::move(summary));
      out.crls.push_back(std::move(crl));
    }
  }
  return out;
}

std::filesystem::path crl_cache_file(const std::filesystem::path& cache_dir, const std::string& url) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(url.data(), url.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string name;
  for (unsigned int i = 0; i < length; ++i) {
    name.push_back(hex[digest[i] >> 4]);
    name.push_back(hex[digest[i] & 0xf]);
  }
  return cache_dir / (name + ".crl");
}

std::vector<std::string> http_distribution_points(X509* cert) {
  std::vector<std::string> urls;
  auto* points = static_cast<CRL_DIST_POINTS*>(X509_get_ext_d2i(cert, NID_crl_distribution_points, nullptr, nullptr));
  ERR_clear_error();
  if (!points) return urls;
  for (int i = 0; i < sk_DIST_POINT_num(points); ++i) {
    const DIST_POINT* point = sk_DIST_POINT_value(points, i);
    if (!point->distpoint || point->distpoint->type != 0) continue;
    const GENERAL_NAMES* names = point->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, j);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                       static_cast<std::size_t>(ASN1_STRING_length(uri)));
      if (text.find('\0') != std::string::npos || !text.starts_with("http://")) continue;
      if (std::find(urls.begin(), urls.end(), text) == urls.end()) urls.push_back(std::move(text));
    }
  }
  CRL_DIST_POINTS_free(points);
  return urls;
}

bool crl_older(X509_CRL* candidate, X509_CRL* current) {
  if (X509_NAME_cmp(X509_CRL_get_issuer(candidate), X509_CRL_get_issuer(current)) != 0) return false;
  auto* candidate_number =
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(candidate, NID_crl_number, nullptr, nullptr));
  auto* current_number = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(current, NID_crl_number, nullptr, nullptr));
  ERR_clear_error();
  const bool lower_number =
      candidate_number && current_number && ASN1_INTEGER_cmp(candidate_number, current_number) < 0;
  ASN1_INTEGER_free(candidate_number);
  ASN1_INTEGER_free(current_number);
  if (lower_number) return true;
  int day = 0;
  int second = 0;
  if (ASN1_TIME_diff(&day, &second, X509_CRL_get0_lastUpdate(current), X509_CRL_get0_lastUpdate(candidate)) != 1)
    return false;
  return day < 0 || second < 0;
}

}  // namespace mtlsd::tls
