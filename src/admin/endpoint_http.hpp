#pragma once
// HTTP/1.1 framing for the admin endpoint, without I/O: bytes read from the
// client go in, the bytes of one response come out. Owned by the admin
// endpoint's author. Boost.Beast stays inside endpoint_http.cpp, so only one
// translation unit pays for its templates.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>

#include "mtlsd/admin/endpoint.hpp"

namespace mtlsd::admin::detail {

// Requests are a request line and a few headers; anything larger is not a
// scraper or a health check.
inline constexpr std::size_t header_limit = 8 * 1024;
inline constexpr std::size_t body_limit = 4 * 1024;

struct reply {
  std::string bytes;        // status line, headers and (unless HEAD) body
  bool keep_alive = false;  // false: close once `bytes` are sent
  unsigned status = 0;
  std::string method;  // as received, for the debug log; empty when unparsable
  std::string path;
};

// One connection's requests, one after another (pipelined ones included).
class http_exchange {
 public:
  http_exchange();
  ~http_exchange();
  http_exchange(const http_exchange&) = delete;
  http_exchange& operator=(const http_exchange&) = delete;

  // Room for the next read. Never empty while !ready(): a request that cannot
  // fit has already failed (431).
  boost::asio::mutable_buffer prepare();
  void commit(std::size_t bytes);
  // A whole request, or a request that cannot be answered normally, is in.
  bool ready() const;
  // The response to the request that made ready() true. With keep_alive the
  // exchange moves on to the bytes that followed that request.
  reply answer(const routes& handler);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

// The path of a request target (origin-form "/a?b", or absolute-form
// "http://host/a?b" as proxies send it), without query or fragment. Not
// percent-decoded. nullopt for any other form.
std::optional<std::string_view> path_of(std::string_view target);

}  // namespace mtlsd::admin::detail
