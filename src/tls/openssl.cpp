#include "mtlsd/tls/openssl.hpp"

#include <openssl/err.h>

#include <ctime>

namespace mtlsd::ossl {

std::string drain_errors(const std::string& fallback) {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    const std::string part = reason ? reason : "error code " + std::to_string(ERR_GET_REASON(code));
    // OpenSSL often queues the same reason from several layers; say it once.
    if (text.find(part) != std::string::npos) continue;
    if (!text.empty()) text += "; ";
    text += part;
  }
  return text.empty() ? fallback : text;
}

std::string iso8601(const ASN1_TIME* time) {
  std::tm tm{};
  if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return {};
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string name_text(const X509_NAME* name) {
  if (!name) return {};
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // RFC 2253 with UTF-8 output; ESC_CTRL keeps control bytes out of logs.
  constexpr unsigned long flags = (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_ESC_CTRL;
  if (X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

}  // namespace mtlsd::ossl
