// Shared by the benchmark tools that speak TLS (loadgen, inproc).
#pragma once

#include <string>

namespace mtlsd::bench {

// Empties OpenSSL's error queue into one line ("; "-separated), for messages.
std::string drain_openssl_errors();

}  // namespace mtlsd::bench
