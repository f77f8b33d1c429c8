#include "pumped_tls_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "process.hpp"
#include "raw_tls.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

}  // namespace

pumped_tls_client::pumped_tls_client(const tls_client_options& options) : options_(options) {
  ignore_sigpipe();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) throw harness_error("SSL_CTX_new: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx_, options_.min_version);
  SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
  if (options_.security_level >= 0) SSL_CTX_set_security_level(ctx_, options_.security_level);
  if (!options_.cipher_list.empty() && SSL_CTX_set_cipher_list(ctx_, options_.cipher_list.c_str()) != 1)
    throw harness_error("cipher list " + options_.cipher_list + ": " + openssl_errors());
  SSL_CTX_set_mode(ctx_, SSL_MODE_NO_AUTO_CHAIN);
  if (!options_.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr) != 1)
      throw harness_error("load CA " + options_.ca_file.string() + ": " + openssl_errors());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (options_.identity) options_.identity->install(ctx_);
  ssl_ = SSL_new(ctx_);
  to_server_ = BIO_new(BIO_s_mem());
  from_server_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !to_server_ || !from_server_) throw harness_error("SSL_new/BIO_new: " + openssl_errors());
  SSL_set_bio(ssl_, from_server_, to_server_);  // the SSL owns both BIOs now
  SSL_set_connect_state(ssl_);
  SSL_set_app_data(ssl_, this);
  SSL_set_info_callback(ssl_, &pumped_tls_client::info_callback);
  if (!options_.sni.empty()) SSL_set_tlsext_host_name(ssl_, options_.sni.c_str());
  if (!options_.verify_host.empty() && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_),
                                                                      options_.verify_host.c_str()) != 1)
    SSL_set1_host(ssl_, options_.verify_host.c_str());
}

pumped_tls_client::~pumped_tls_client() {
  SSL_free(ssl_);
  SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

void pumped_tls_client::info_callback(const SSL* ssl, int where, int ret) {
  // SSL_CB_READ_ALERT shares its SSL_CB_ALERT bit with SSL_CB_WRITE_ALERT:
  // test both bits, or the alerts we send count as received.
  if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT) return;
  auto* self = static_cast<pumped_tls_client*>(SSL_get_app_data(ssl));
  const int code = ret & 0xff;
  if (code == SSL_AD_CLOSE_NOTIFY) return;
  // alert_name() covers the fatal alerts; this one is a warning that only
  // refused renegotiation produces (RFC 5246 section 7.2.2).
  self->alert_received_ = code == SSL_AD_NO_RENEGOTIATION ? "no_renegotiation" : alert_name(code);
}

bool pumped_tls_client::connect_tcp(const std::string& host, std::uint16_t port, std::string* error) {
  fd_ = tcp_connect(host, port, options_.timeout, error);
  if (fd_ < 0) return false;
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return true;
}

void pumped_tls_client::reset() {
  if (fd_ < 0) return;
  reset_connection(fd_);
  fd_ = -1;
}

void pumped_tls_client::set_pacing(std::size_t bytes, std::chrono::microseconds gap) {
  piece_ = bytes;
  gap_ = gap;
}

void pumped_tls_client::offer_session(SSL_SESSION* session) {
  if (SSL_set_session(ssl_, session) != 1) throw harness_error("SSL_set_session: " + openssl_errors());
}

bool pumped_tls_client::send_paced(std::string_view bytes) {
  const std::size_t piece = piece_ == 0 ? bytes.size() : piece_;
  while (!bytes.empty()) {
    const std::size_t n = std::min(piece, bytes.size());
    const ssize_t sent = ::send(fd_, bytes.data(), n, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes_sent_ += static_cast<std::uint64_t>(sent);
    bytes.remove_prefix(static_cast<std::size_t>(sent));
    // The trickle is what is being tested, not a wait for something.
    if (gap_.count() > 0 && !bytes.empty()) std::this_thread::sleep_for(gap_);
  }
  return true;
}

bool pumped_tls_client::flush() {
  std::vector<char> buffer(16 * 1024);
  for (;;) {
    const int n = BIO_read(to_server_, buffer.data(), static_cast<int>(buffer.size()));
    if (n <= 0) return true;
    if (!send_paced(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) return false;
  }
}

std::string pumped_tls_client::produce(const std::function<int(SSL*)>& op) {
  ERR_clear_error();
  op(ssl_);
  std::string out;
  char buffer[4096];
  for (int n = BIO_read(to_server_, buffer, sizeof buffer); n > 0; n = BIO_read(to_server_, buffer, sizeof buffer))
    out.append(buffer, static_cast<std::size_t>(n));
  return out;
}

bool pumped_tls_client::receive_some(std::chrono::milliseconds timeout) {
  if (peer_closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return false;
  char buffer[16 * 1024];
  const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
  if (n <= 0) {
    // OpenSSL sees the end once it has consumed what came before it.
    peer_closed_ = true;
    BIO_set_mem_eof_return(from_server_, 0);
    return false;
  }
  BIO_write(from_server_, buffer, static_cast<int>(n));
  return true;
}

pumped_outcome pumped_tls_client::run(const std::function<int(SSL*)>& op) {
  pumped_outcome outcome;
  const auto deadline = clock_type::now() + options_.timeout;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int r = op(ssl_);
    const int err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    const unsigned long first_error = ERR_peek_error();
    const std::string text = r > 0 ? std::string() : openssl_errors();
    const bool sent = flush();
    if (r > 0) {
      outcome.ok = true;
      return outcome;
    }
    if (err == SSL_ERROR_WANT_READ) {
      if (peer_closed_) {
        outcome.end = read_end::eof;
        outcome.error = "connection closed by the server";
        return outcome;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0 || (!receive_some(left) && !peer_closed_)) {
        outcome.end = read_end::timeout;
        outcome.error = "timed out after " + std::to_string(options_.timeout.count()) + " ms";
        return outcome;
      }
      continue;
    }
    if (err == SSL_ERROR_WANT_WRITE && sent) continue;
    if (err == SSL_ERROR_ZERO_RETURN) {
      outcome.end = read_end::close_notify;
    } else if ((err == SSL_ERROR_SSL && ERR_GET_REASON(first_error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
               (err == SSL_ERROR_SYSCALL && text.empty())) {
      outcome.end = read_end::eof;
      outcome.error = text.empty() ? "unexpected EOF" : text;
    } else {
      outcome.end = read_end::error;
      outcome.error = !text.empty() ? text : (sent ? "SSL error " + std::to_string(err) : "send failed");
    }
    return outcome;
  }
}

pumped_outcome pumped_tls_client::handshake() {
  return run([](SSL* s) { return SSL_do_handshake(s); });
}

pumped_outcome pumped_tls_client::write(std::string_view data) {
  while (!data.empty()) {
    std::size_t written = 0;
    auto outcome = run([&](SSL* s) { return SSL_write_ex(s, data.data(), data.size(), &written); });
    if (!outcome.ok) return outcome;
    data.remove_prefix(written);
  }
  return {true, read_end::none, {}};
}

read_result pumped_tls_client::read_exact(std::size_t n) {
  read_result result;
  std::vector<char> buffer(16 * 1024);
  while (result.data.size() < n) {
    std::size_t got = 0;
    const std::size_t want = std::min(buffer.size(), n - result.data.size());
    auto outcome = run([&](SSL* s) { return SSL_read_ex(s, buffer.data(), want, &got); });
    if (!outcome.ok) {
      result.end = outcome.end;
      result.error = outcome.error;
      break;
    }
    result.data.append(buffer.data(), got);
  }
  result.alert_received = alert_received_;
  return result;
}

read_result pumped_tls_client::read_until_end() {
  auto result = read_exact(SIZE_MAX);
  return result;
}

}  // namespace mtlsd::test
