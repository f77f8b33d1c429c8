#pragma once
// The v2 TLVs mtlsd sends to a backend about the client's TLS connection
// (proxy_protocol_tlvs): HAProxy's ALPN/AUTHORITY/SSL definitions plus our
// custom 0xE0-0xEF ones (docs/backends.md). The session owns the sending;
// this only turns a finished handshake into TLVs.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/proxy/proxy_protocol.hpp"

typedef struct ssl_st SSL;

namespace mtlsd::proxy::pp {

struct built_tlvs {
  std::vector<tlv> tlvs;
  // cert_der was selected but left out: with it the header would not fit
  // the 16-bit length (`room` bytes were left after the addresses).
  bool cert_der_omitted = false;
};

// `selected`: names from proxy_protocol_tlv_names(), in any order; TLVs come
// out in type order. `ssl` is null on a tcp:// accept (then only nothing is
// known and nothing is sent); `identity` is null without a client
// certificate. `server_name` is the SNI the client sent, empty without one.
built_tlvs build_tlvs(std::span<const std::string> selected, SSL* ssl, const client_identity* identity,
                      std::string_view server_name, std::size_t room);

}  // namespace mtlsd::proxy::pp
