#include "mtlsd/fetch/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>

namespace mtlsd::fetch {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::optional<http_url> parse_http_url(const std::string& text, std::string& error) {
  constexpr std::string_view scheme = "http://";
  if (text.size() < scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), text.begin(),
                  [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b); })) {
    error = text.starts_with("https://") || text.starts_with("HTTPS://")
                ? "https:// is not supported: CRLs and OCSP responses are signed and served over plain http://"
                : "expected an http:// URL";
    return std::nullopt;
  }
  http_url url;
  url.text = text;
  const std::string rest = text.substr(scheme.size());
  const auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  url.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (url.target.front() == '?') url.target.insert(0, "/");
  if (authority.find('@') != std::string::npos) {
    error = "user information in the URL is not supported";
    return std::nullopt;
  }
  url.port = "80";
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "unterminated IPv6 address";
      return std::nullopt;
    }
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        error = "unexpected text after the IPv6 address";
        return std::nullopt;
      }
      url.port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    url.host = authority.substr(0, colon);
    url.port = authority.substr(colon + 1);
  } else {
    url.host = authority;
  }
  const bool port_ok = !url.port.empty() && url.port.size() <= 5 &&
                       url.port.find_first_not_of("0123456789") == std::string::npos &&
                       std::stoul(url.port) >= 1 && std::stoul(url.port) <= 65535;
  if (url.host.empty() || !port_ok) {
    error = url.host.empty() ? "missing host" : "invalid port " + url.port;
    return std::nullopt;
  }
  const bool printable = std::all_of(text.begin(), text.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (!printable) {
    error = "spaces and control characters are not allowed in a URL";
    return std::nullopt;
  }
  return url;
}

asio::awaitable<http_result> http_fetch(http_request request) {
  http_result result;
  const auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  // One deadline for resolving, connecting, sending and reading together.
  const auto deadline = std::chrono::steady_clock::now() + request.timeout;
  const auto remaining = [&] { return std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero()); };
  const auto fail = [&](const std::string& what, const beast::error_code& ec) {
    result.error = what + ": " + (ec == beast::error::timeout ? "no answer within the time limit" : ec.message());
  };

  asio::ip::tcp::resolver resolver(executor);
  asio::steady_timer resolve_deadline(executor, remaining());
  resolve_deadline.async_wait([&resolver](const beast::error_code& ec) {
    if (!ec) resolver.cancel();
  });
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(request.url.host, request.url.port,
                                                                 asio::as_tuple(asio::use_awaitable));
  resolve_deadline.cancel();
  if (resolve_ec) {
    fail("cannot resolve " + request.url.host, resolve_ec == asio::error::operation_aborted ? beast::error::timeout : resolve_ec);
    co_return result;
  }

  stream.expires_after(remaining());
  auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
  if (connect_ec) {
    fail("cannot connect to " + request.url.host + ":" + request.url.port, connect_ec);
    co_return result;
  }

  http::request<http::string_body> message{request.method == "POST" ? http::verb::post : http::verb::get,
                                           request.url.target, 11};
  const bool default_port = request.url.port == "80";
  const bool v6 = request.url.host.find(':') != std::string::npos;
  message.set(http::field::host, (v6 ? "[" + request.url.host + "]" : request.url.host) +
                                     (default_port ? "" : ":" + request.url.port));
  message.set(http::field::user_agent, "mtlsd");
  message.set(http::field::connection, "close");
  if (!request.content_type.empty()) message.set(http::field::content_type, request.content_type);
  if (request.method == "POST") {
    message.body() = std::move(request.body);
    message.prepare_payload();
  }
  stream.expires_after(remaining());
  auto [write_ec, written] = co_await http::async_write(stream, message, asio::as_tuple(asio::use_awaitable));
  (void)written;
  if (write_ec) {
    fail("cannot send the request to " + request.url.text, write_ec);
    co_return result;
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(request.max_body);
  stream.expires_after(remaining());
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  (void)read;
  if (read_ec) {
    if (read_ec == http::error::body_limit)
      result.error = "the answer from " + request.url.text + " is larger than " + std::to_string(request.max_body) +
                     " bytes";
    else
      fail("no complete answer from " + request.url.text, read_ec);
    co_return result;
  }
  auto response = parser.release();
  result.status = response.result_int();
  result.body = std::move(response.body());
  result.ok = result.status == 200;
  if (!result.ok) result.error = request.url.text + " answered HTTP " + std::to_string(result.status);
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return result;
}

}  // namespace mtlsd::fetch
