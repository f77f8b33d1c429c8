// mtlsd-echo: a plain TCP echo server, the backend for the README demo and the
// integration tests. Owned by the test-harness helper.
//
// Half-close aware: when the client shuts down its sending side, everything it
// sent is still echoed, then our sending side is shut down too. That makes the
// proxy's half-close handling observable end to end.

#include <boost/asio.hpp>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::string_view usage_text =
    "usage: mtlsd-echo [--listen HOST:PORT]\n"
    "\n"
    "A TCP echo server for demos and tests. Every byte received is sent back;\n"
    "when the client half-closes, the rest is echoed and then this side closes.\n"
    "\n"
    "  --listen HOST:PORT  address to bind (default 127.0.0.1:9000; port 0 picks a\n"
    "                      free port; IPv6 as [::1]:9000)\n"
    "  --http              answer a connection that starts with an HTTP request with\n"
    "                      a small HTTP response showing the request as received\n"
    "                      (for curl); anything else is still echoed\n"
    "  --help              show this text\n"
    "\n"
    "Prints \"listening HOST:PORT\" with the bound port once ready; stops on SIGTERM/SIGINT.\n";

struct listen_address {
  std::string host;
  unsigned short port = 0;
};

std::optional<listen_address> parse_listen(std::string_view text) {
  listen_address out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (out.host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || value > 65535) {
    return std::nullopt;
  }
  out.port = static_cast<unsigned short>(value);
  return out;
}

bool looks_like_http_request(std::string_view head) {
  for (std::string_view method : {"GET /", "HEAD /", "POST /", "PUT /", "DELETE /", "OPTIONS /", "PATCH /"})
    if (head.starts_with(method)) return true;
  return false;
}

// Reads the request head (bounded by the buffer), answers, and closes: enough
// for curl to show that the request went through the proxy.
asio::awaitable<void> answer_http(tcp::socket& socket, std::string head) {
  boost::system::error_code ec;
  char buffer[16 * 1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < sizeof buffer) {
    const std::size_t n =
        co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    head.append(buffer, n);
  }
  head = head.substr(0, head.find("\r\n\r\n"));
  const std::string body = "hello from the mtlsd demo backend\n\nyour request as it reached the backend:\n" + head + "\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  co_await asio::async_write(socket, asio::buffer(response), asio::redirect_error(asio::use_awaitable, ec));
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> echo(tcp::socket socket, bool http) {
  char buffer[16 * 1024];
  boost::system::error_code ec;
  for (bool first = true;; first = false) {
    const std::size_t n =
        co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (first && http && looks_like_http_request(std::string_view(buffer, n))) {
      co_await answer_http(socket, std::string(buffer, n));
      co_return;
    }
    co_await asio::async_write(socket, asio::buffer(buffer, n), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
  if (ec == asio::error::eof) {
    // The client's FIN: everything it sent has been echoed, so answer with ours.
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, bool http) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. EMFILE or a connection reset before accept: keep serving
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket), http), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  listen_address address{"127.0.0.1", 9000};
  bool http = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage_text;
      return 0;
    }
    if (arg == "--http") {
      http = true;
      continue;
    }
    if (arg == "--listen" && i + 1 < argc) {
      auto parsed = parse_listen(argv[++i]);
      if (!parsed) {
        std::cerr << "mtlsd-echo: bad --listen value '" << argv[i] << "' (want HOST:PORT)\n";
        return 2;
      }
      address = *parsed;
      continue;
    }
    std::cerr << "mtlsd-echo: unexpected argument '" << arg << "'\n" << usage_text;
    return 2;
  }

  try {
    asio::io_context io;
    const tcp::endpoint endpoint(asio::ip::make_address(address.host), address.port);
    tcp::acceptor acceptor(io, endpoint);
    const auto bound = acceptor.local_endpoint();
    const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                      : bound.address().to_string();
    // Tests and scripts read this line to learn the port, so flush it now.
    std::cout << "listening " << host << ':' << bound.port() << std::endl;

    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    asio::co_spawn(io, accept_loop(acceptor, http), asio::detached);
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "mtlsd-echo: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
