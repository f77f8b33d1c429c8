#pragma once
// Error codes for TLS failures on the data path (no exceptions there). The
// value is OpenSSL's packed error code; the message its reason string.

#include <boost/system/error_code.hpp>

namespace mtlsd::tls {

const boost::system::error_category& error_category();

// From OpenSSL's packed error code (ERR_get_error()).
boost::system::error_code make_error(unsigned long openssl_error);

}  // namespace mtlsd::tls
