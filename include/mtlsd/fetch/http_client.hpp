#pragma once
// A small HTTP/1.1 client for revocation data: CRLs (GET) and, later, OCSP
// (POST). Both are signed objects and their URLs are http:// by RFC 5280 and
// RFC 6960, so there is no TLS here. Every request is bounded: one deadline
// for the whole exchange and a cap on the body, because the answer comes
// from a server we do not control and must never stall or swamp the daemon.
// Runs on whichever executor awaits it; never blocks that thread.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace mtlsd::fetch {

struct http_url {
  std::string host;  // without brackets for IPv6 literals
  std::string port;  // "80" unless given
  std::string target;  // path and query, "/" when empty
  std::string text;    // as configured, for logs
};

// Only "http://host[:port][/path]"; nullopt with `error` set otherwise.
std::optional<http_url> parse_http_url(const std::string& text, std::string& error);

struct http_request {
  http_url url;
  std::string method = "GET";
  std::string content_type;  // for POST
  std::string body;
  std::size_t max_body = 16 * 1024 * 1024;
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
};

struct http_result {
  bool ok = false;       // a complete response with status 200
  unsigned status = 0;   // 0 when no response arrived
  std::string body;
  std::string error;     // why not ok, in words for a log line
};

boost::asio::awaitable<http_result> http_fetch(http_request request);

}  // namespace mtlsd::fetch
