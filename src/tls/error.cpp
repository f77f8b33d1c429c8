#include "mtlsd/tls/error.hpp"

#include <openssl/err.h>

#include <string>

namespace mtlsd::tls {
namespace {

class tls_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "mtlsd.tls"; }
  std::string message(int value) const override {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(value));
    return reason ? reason : "TLS error " + std::to_string(value);
  }
};

}  // namespace

const boost::system::error_category& error_category() {
  static const tls_category category;
  return category;
}

boost::system::error_code make_error(unsigned long openssl_error) {
  // Keep library and reason; drop the function code so values are stable.
  const auto packed = ERR_PACK(ERR_GET_LIB(openssl_error), 0, ERR_GET_REASON(openssl_error));
  return {static_cast<int>(packed == 0 ? ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR) : packed),
          error_category()};
}

}  // namespace mtlsd::tls
