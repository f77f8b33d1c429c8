#include "endpoint_http.hpp"

#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>

namespace mtlsd::admin::detail {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Room for a full header plus a pipelined request or two; body bytes are
// moved into the message as they are parsed, so they need no room here.
constexpr std::size_t buffer_size = 16 * 1024;

using request_parser = http::request_parser<http::string_body>;
using http_response = http::response<http::string_body>;

// RFC 9110 section 5.6.7 (IMF-fixdate). Spelled out rather than strftime'd:
// %a and %b follow the process locale.
std::string http_date() {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  if (!gmtime_r(&now, &tm)) return "Thu, 01 Jan 1970 00:00:00 GMT";
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
                months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

// A header value must not carry a line break: a route's content type could
// otherwise add header lines of its own.
std::string header_safe(std::string value) {
  for (char& c : value)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  return value;
}

std::string serialize(http_response& res, bool header_only) {
  std::string out;
  http::response_serializer<http::string_body> sr{res};
  sr.split(header_only);
  beast::error_code ec;
  do {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (const auto b : beast::buffers_range_ref(buffers)) out.append(static_cast<const char*>(b.data()), b.size());
      sr.consume(beast::buffer_bytes(buffers));
    });
  } while (!ec && !(header_only ? sr.is_header_done() : sr.is_done()));
  return out;
}

http_response base_response(http::status status, unsigned version, std::string content_type) {
  http_response res{status, version};
  res.set(http::field::server, "mtlsd");
  res.set(http::field::date, http_date());
  // Health and metrics are live values: a cache in between must not answer for us.
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::content_type, header_safe(std::move(content_type)));
  return res;
}

// A response that ends the connection: the request could not be read to its
// end (or is not one we serve), so what follows it on the wire is unknowable.
reply refusal(http::status status, std::string method = {}, std::string path = {}) {
  auto res = base_response(status, 11, "text/plain; charset=utf-8");
  if (status == http::status::method_not_allowed) res.set(http::field::allow, "GET, HEAD");
  res.body() = std::string(http::obsolete_reason(status)) + "\n";
  res.content_length(res.body().size());
  res.keep_alive(false);
  return {serialize(res, false), false, static_cast<unsigned>(status), std::move(method), std::move(path)};
}

}  // namespace

std::optional<std::string_view> path_of(std::string_view target) {
  if (target.empty()) return std::nullopt;
  if (target.front() != '/') {
    // absolute-form (RFC 9112 section 3.2.2): servers must accept it.
    const auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
    const auto path_start = target.find_first_of("/?#", scheme_end + 3);
    if (path_start == std::string_view::npos || target[path_start] != '/') return std::string_view("/");
    target.remove_prefix(path_start);
  }
  return target.substr(0, target.find_first_of("?#"));
}

struct http_exchange::state {
  enum class phase { reading, complete, wrong_method, failed };

  std::array<char, buffer_size> buffer{};
  std::size_t begin = 0, end = 0;  // unparsed bytes
  std::optional<request_parser> parser;
  phase now = phase::reading;
  http::status failure = http::status::bad_request;

  void reset() {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(header_limit));
    parser->body_limit(static_cast<std::uint64_t>(body_limit));
    now = phase::reading;
  }

  void fail(http::status status) {
    now = phase::failed;
    failure = status;
  }

  void parse() {
    while (now == phase::reading && begin < end) {
      beast::error_code ec;
      const std::size_t used = parser->put(boost::asio::const_buffer(buffer.data() + begin, end - begin), ec);
      begin += used;
      if (ec == http::error::need_more) break;
      if (ec == http::error::header_limit) return fail(http::status::request_header_fields_too_large);
      if (ec == http::error::body_limit) return fail(http::status::payload_too_large);
      if (ec) return fail(http::status::bad_request);
      if (parser->is_header_done()) {
        const auto method = parser->get().method();
        // Decided on the header alone: a body we would not use is not waited for.
        if (method != http::verb::get && method != http::verb::head) {
          now = phase::wrong_method;
          return;
        }
      }
      if (parser->is_done()) {
        now = phase::complete;
        return;
      }
      if (used == 0) break;
    }
  }
};

http_exchange::http_exchange() : state_(std::make_unique<state>()) { state_->reset(); }

http_exchange::~http_exchange() = default;

boost::asio::mutable_buffer http_exchange::prepare() {
  auto& s = *state_;
  if (s.begin > 0) {
    std::memmove(s.buffer.data(), s.buffer.data() + s.begin, s.end - s.begin);
    s.end -= s.begin;
    s.begin = 0;
  }
  // The parser refuses a header longer than header_limit before the buffer
  // fills; this only guards that promise.
  if (s.end == s.buffer.size() && s.now == state::phase::reading)
    s.fail(http::status::request_header_fields_too_large);
  return {s.buffer.data() + s.end, s.buffer.size() - s.end};
}

void http_exchange::commit(std::size_t bytes) {
  auto& s = *state_;
  s.end += std::min(bytes, s.buffer.size() - s.end);
  s.parse();
}

bool http_exchange::ready() const { return state_->now != state::phase::reading; }

reply http_exchange::answer(const routes& handler) {
  auto& s = *state_;
  if (s.now == state::phase::failed) return refusal(s.failure);
  const auto& req = s.parser->get();
  std::string method(req.method_string());
  const std::string_view target(req.target().data(), req.target().size());
  const auto path = path_of(target);
  std::string path_text(path ? *path : target);
  if (s.now == state::phase::wrong_method)
    return refusal(http::status::method_not_allowed, std::move(method), std::move(path_text));
  // RFC 9112 section 3.2: an HTTP/1.1 request without Host gets a 400.
  if (!path || (req.version() >= 11 && req.find(http::field::host) == req.end()))
    return refusal(http::status::bad_request, std::move(method), std::move(path_text));

  response routed;
  try {
    routed = handler(*path);
  } catch (const std::exception& e) {
    routed = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
  } catch (...) {
    routed = {500, "text/plain; charset=utf-8", "internal error\n"};
  }
  if (routed.status < 200 || routed.status > 599)
    routed = {500, "text/plain; charset=utf-8",
              "internal error: route answered status " + std::to_string(routed.status) + "\n"};

  const bool head = req.method() == http::verb::head;
  const bool keep_alive = req.keep_alive();
  auto res = base_response(static_cast<http::status>(routed.status), req.version() == 10 ? 10 : 11,
                           std::move(routed.content_type));
  // RFC 9110 sections 15.3.5 and 15.4.5: 204 and 304 carry no content (and
  // 204 no Content-Length).
  const bool bodyless = routed.status == 204 || routed.status == 304;
  if (!bodyless) {
    res.content_length(routed.body.size());
    res.body() = std::move(routed.body);
  }
  res.keep_alive(keep_alive);

  reply out{serialize(res, head), keep_alive, routed.status, std::move(method), std::move(path_text)};
  if (keep_alive) {
    s.reset();
    s.parse();
  }
  return out;
}

}  // namespace mtlsd::admin::detail
