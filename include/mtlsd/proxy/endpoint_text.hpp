#pragma once

#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace mtlsd::proxy {

// "127.0.0.1:8443" / "[::1]:8443" — how addresses appear in every log line.
std::string to_text(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace mtlsd::proxy
