#include "openssl_errors.hpp"

#include <openssl/err.h>

namespace mtlsd::bench {

std::string drain_openssl_errors() {
  std::string text;
  char buffer[256];
  for (int i = 0; i < 16; ++i) {  // the queue is short; the bound is a guard
    const unsigned long code = ERR_get_error();
    if (code == 0) break;
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  ERR_clear_error();
  return text.empty() ? "no OpenSSL error recorded" : text;
}

}  // namespace mtlsd::bench
