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

std::int64_t unix_time(const ASN1_TIME* time) {
  std::tm tm{};
  if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return timegm(&tm);
}

}  // namespace mtlsd::ossl
