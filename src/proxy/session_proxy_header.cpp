// The PROXY protocol in a session (docs/backends.md): the header an L4
// balancer sends first (accept_proxy_protocol), and the one sent to the
// backend (proxy_protocol). Part of proxy::session (session.hpp).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "mtlsd/log/logging.hpp"
#include "mtlsd/proxy/endpoint_text.hpp"
#include "mtlsd/proxy/proxy_protocol_tlvs.hpp"
#include "mtlsd/proxy/session.hpp"

namespace mtlsd::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

asio::awaitable<bool> session::read_proxy_header() {
  enter(phase::handshake, started_ + service_->config.proxy_protocol_timeout);
  std::vector<std::uint8_t> bytes;
  // parse() asks for no more than the header holds, so reading exactly up to
  // `need` leaves the client's first bytes (a ClientHello) in the socket.
  pp::parse_result result = pp::parse({});
  while (result.status == pp::parse_status::need_more) {
    const std::size_t have = bytes.size();
    bytes.resize(result.need);
    auto [ec, n] = co_await client_socket_.async_read_some(asio::buffer(bytes.data() + have, result.need - have),
                                                           asio::as_tuple(asio::use_awaitable));
    bytes.resize(have + n);
    if (ec) {
      if (ended_by_us()) co_return false;
      if (deadline_passed_) {
        reject_proxy_header("timeout",
                            "no complete PROXY header within " +
                                format_duration(service_->config.proxy_protocol_timeout) + " (" +
                                std::to_string(bytes.size()) + " bytes received)",
                            false);
      } else {
        const bool nothing = bytes.empty() && ec == asio::error::eof;
        reject_proxy_header("closed",
                            nothing ? std::string("client closed the connection without sending a byte")
                                    : "connection ended after " + std::to_string(bytes.size()) +
                                          " bytes of a PROXY header: " + ec.message(),
                            nothing);
      }
      co_return false;
    }
    result = pp::parse(bytes);
  }
  if (result.status == pp::parse_status::invalid) {
    reject_proxy_header(to_string(result.error), result.detail, false);
    co_return false;
  }
  // LOCAL (a balancer's own health check) and UNKNOWN keep the real peer.
  if (result.value.cmd == pp::command::proxy && result.value.addresses) {
    real_peer_ = peer_;
    peer_ = to_text(result.value.addresses->source);
    client_addresses_ = result.value.addresses;
  }
  co_return true;
}

void session::reject_proxy_header(std::string_view reason, const std::string& detail, bool quiet) {
  for (std::size_t i = 0; i < metrics::proxy_header_reasons.size(); ++i)
    if (metrics::proxy_header_reasons[i] == reason) service_->metrics->proxy_header_rejections[i].add();
  // Like a TCP health check on a TLS port: connecting and closing without a
  // byte is not worth a warning.
  log::emit(quiet ? log_level::info : log_level::warn, log::record("proxy_header_rejected")
                .add("conn", id_)
                .add("svc", service_->config.name)
                .add("peer", peer_)
                .add("reason", reason)
                .add("detail", detail));
  verify_status_ = "-";  // on a tls:// listener: no handshake was attempted
  end(close_reason::proxy_header_invalid);
}

std::vector<std::uint8_t> session::outgoing_proxy_header() {
  const auto& config = service_->config;
  if (!client_addresses_) {
    // Looked up only here: most services never send a header.
    auto& socket = client_tls_ ? client_tls_->socket() : client_tcp_->socket();
    error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    const auto local = ec ? tcp::endpoint{} : socket.local_endpoint(ec);
    if (!ec) client_addresses_ = pp::address_pair{remote, local};
  }
  if (config.proxy_protocol == proxy_protocol_version::v1) return pp::encode_v1(client_addresses_);
  SSL* ssl = client_tls_ ? client_tls_->native() : nullptr;
  const std::size_t room = pp::v2_max_payload - pp::v2_payload_size(client_addresses_, {});
  const client_identity* identity = verdict_.identity ? &*verdict_.identity : nullptr;
  auto built = pp::build_tlvs(config.proxy_protocol_tlvs, ssl, identity, server_name_, room);
  auto omitted = [&](std::string_view tlv, std::string_view what) {
    log::warn(log::record("proxy_header_tlv_omitted")
                  .add("conn", id_)
                  .add("svc", config.name)
                  .add("peer", peer_)
                  .add("tlv", tlv)
                  .add("detail", std::string(what) + " do not fit a PROXY v2 header (64 KiB)"));
  };
  if (built.cert_der_omitted) omitted("cert_der", "the client certificate's DER bytes");
  auto header = pp::encode_v2(pp::command::proxy, client_addresses_, built.tlvs);
  if (header.empty()) {
    omitted("all", "the selected TLVs");
    header = pp::encode_v2(pp::command::proxy, client_addresses_, {});
  }
  return header;
}

asio::awaitable<error_code> session::send_proxy_header() {
  if (service_->config.proxy_protocol == proxy_protocol_version::off) co_return error_code{};
  const auto header = outgoing_proxy_header();
  // Still within the connect phase: its deadline bounds a backend that
  // accepts but never reads.
  auto [ec, written] =
      co_await asio::async_write(backend_->socket(), asio::buffer(header), asio::as_tuple(asio::use_awaitable));
  (void)written;
  if (!ec && (deadline_passed_ || ended_by_us())) ec = asio::error::operation_aborted;
  if (!ec) service_->metrics->proxy_headers_sent.add();
  co_return ec;
}

}  // namespace mtlsd::proxy
