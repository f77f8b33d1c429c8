// The PROXY protocol parser (accept_proxy_protocol) on arbitrary bytes: the
// first thing an unauthenticated peer sends. Beyond "no crash, no UB":
//   - need_more never asks for fewer bytes than it has, nor past a limit;
//   - a complete header never claims more bytes than it was given;
//   - what parse() accepts with addresses re-encodes to a header that
//     parses back to the same addresses and TLVs.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "mtlsd/proxy/proxy_protocol.hpp"

namespace pp = mtlsd::proxy::pp;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const pp::parse_result result = pp::parse(bytes);
  switch (result.status) {
    case pp::parse_status::need_more:
      require(result.need > size);
      require(result.need <= 16 + pp::default_max_v2_payload);
      break;
    case pp::parse_status::invalid:
      require(result.error != pp::parse_error::none);
      break;
    case pp::parse_status::complete: {
      const pp::header& h = result.value;
      require(h.size > 0 && h.size <= size);
      if (h.version == 2 && h.cmd == pp::command::proxy && h.addresses) {
        const auto again = pp::encode_v2(h.cmd, h.addresses, h.tlvs);
        const pp::parse_result reparsed = pp::parse(again);
        require(reparsed.status == pp::parse_status::complete);
        require(reparsed.value.addresses->source == h.addresses->source);
        require(reparsed.value.addresses->destination == h.addresses->destination);
        require(reparsed.value.tlvs == h.tlvs);
      }
      if (h.version == 1 && h.addresses) {
        const auto again = pp::encode_v1(h.addresses);
        const pp::parse_result reparsed = pp::parse(again);
        require(reparsed.status == pp::parse_status::complete);
        require(reparsed.value.addresses->source == h.addresses->source);
      }
      break;
    }
  }
  if (pp::parse_tlvs(bytes)) {
    // Any TLV block that parses is a well-formed sequence: nothing to add.
  }
  return 0;
}
