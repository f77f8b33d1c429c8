#include "tls_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "process.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

int ms_left(clock_type::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on fd; false on timeout.
bool wait_fd(int fd, short events, clock_type::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, ms_left(deadline));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

}  // namespace

std::string openssl_errors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string alert_name(int code) {
  // OpenSSL 3.0's SSL_alert_desc_string_long() says "unknown" for the TLS 1.3
  // additions (certificate_required among them), so name them ourselves.
  switch (code) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "alert_" + std::to_string(code);
  }
}

std::string_view to_string(read_end e) {
  switch (e) {
    case read_end::none: return "open";
    case read_end::close_notify: return "close_notify";
    case read_end::eof: return "eof";
    case read_end::error: return "error";
    case read_end::timeout: return "timeout";
  }
  return "?";
}

client_identity client_identity::of(const issued& leaf, std::vector<const issued*> chain) {
  client_identity id;
  id.cert = leaf.cert.get();
  id.key = leaf.key.get();
  for (const auto* c : chain) id.chain.push_back(c->cert.get());
  return id;
}

client_identity client_identity::files(std::filesystem::path cert, std::filesystem::path key) {
  client_identity id;
  id.cert_file = std::move(cert);
  id.key_file = std::move(key);
  return id;
}

tls_client::tls_client(tls_client_options options) : options_(std::move(options)) {
  ignore_sigpipe();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) throw harness_error("SSL_CTX_new: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx_, options_.min_version);
  SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
  if (!options_.cipher_list.empty() && SSL_CTX_set_cipher_list(ctx_, options_.cipher_list.c_str()) != 1) {
    throw harness_error("cipher list " + options_.cipher_list + ": " + openssl_errors());
  }
  if (options_.security_level >= 0) SSL_CTX_set_security_level(ctx_, options_.security_level);
  // Send exactly the chain the test configured: without this OpenSSL may
  // complete the chain from the verify store on its own.
  SSL_CTX_set_mode(ctx_, SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!options_.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr) != 1) {
      throw harness_error("load CA " + options_.ca_file.string() + ": " + openssl_errors());
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
  if (options_.identity) options_.identity->install(ctx_);
}

void client_identity::install(SSL_CTX* ctx) const {
  bool ok = true;
  if (!cert_file.empty()) {
    ok = SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) == 1 &&
         SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  } else if (cert && key) {
    ok = SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    for (X509* c : chain) ok = ok && SSL_CTX_add1_chain_cert(ctx, c) == 1;
  }
  if (!ok) throw harness_error("client identity: " + openssl_errors());
}

tls_client::~tls_client() {
  close();
  SSL_CTX_free(ctx_);
}

void tls_client::info_callback(const SSL* ssl, int where, int ret) {
  // SSL_CB_READ_ALERT shares its SSL_CB_ALERT bit with SSL_CB_WRITE_ALERT:
  // test both bits, or the alerts this client sends count as received.
  if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT) return;
  // Called from inside an SSL call, i.e. with mutex_ held by the caller.
  auto* self = static_cast<tls_client*>(SSL_get_app_data(ssl));
  if ((ret & 0xff) == SSL_AD_CLOSE_NOTIFY) return;
  self->alert_received_ = alert_name(ret & 0xff);
}

int tls_client::run(const std::function<int(SSL*)>& op, read_end& end, std::string& error) {
  const auto deadline = clock_type::now() + options_.timeout;
  for (;;) {
    int r = 0;
    int err = 0;
    int saved_errno = 0;
    std::string text;
    unsigned long first_error = 0;
    {
      std::lock_guard lock(mutex_);
      if (!ssl_) {
        end = read_end::error;
        error = "not connected";
        return -1;
      }
      ERR_clear_error();
      errno = 0;
      r = op(ssl_);
      if (r > 0) return r;
      saved_errno = errno;
      err = SSL_get_error(ssl_, r);
      first_error = ERR_peek_error();
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) text = openssl_errors();
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!wait_fd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        end = read_end::timeout;
        error = "timed out after " + std::to_string(options_.timeout.count()) + " ms";
        return -1;
      }
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      end = read_end::close_notify;
      return 0;
    }
    if (err == SSL_ERROR_SSL && ERR_GET_REASON(first_error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      end = read_end::eof;
      error = text;
      return 0;
    }
    if (err == SSL_ERROR_SYSCALL && saved_errno == 0 && text.empty()) {
      end = read_end::eof;
      error = "unexpected EOF";
      return 0;
    }
    end = read_end::error;
    error = !text.empty() ? text : std::string(std::strerror(saved_errno));
    return -1;
  }
}

handshake_result tls_client::connect(const std::string& host, std::uint16_t port) {
  handshake_result result;
  close();
  std::string error;
  fd_ = tcp_connect(host, port, options_.timeout, &error);
  if (fd_ < 0) {
    result.error = error;
    return result;
  }
  if (!options_.preamble.empty() &&
      ::send(fd_, options_.preamble.data(), options_.preamble.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(options_.preamble.size())) {
    result.error = std::string("sending the preamble: ") + std::strerror(errno);
    return result;
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  {
    std::lock_guard lock(mutex_);
    alert_received_.clear();
    ssl_ = SSL_new(ctx_);
    SSL_set_app_data(ssl_, this);
    SSL_set_info_callback(ssl_, &tls_client::info_callback);
    SSL_set_fd(ssl_, fd_);
    if (offered_session_ && SSL_set_session(ssl_, offered_session_.get()) != 1) {
      throw harness_error("SSL_set_session: " + openssl_errors());
    }
    if (!options_.sni.empty()) SSL_set_tlsext_host_name(ssl_, options_.sni.c_str());
    if (options_.request_ocsp_status) SSL_set_tlsext_status_type(ssl_, TLSEXT_STATUSTYPE_ocsp);
    if (!options_.alpn.empty()) {
      std::string wire;
      for (const auto& p : options_.alpn) wire += static_cast<char>(p.size()) + p;
      SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    if (!options_.verify_host.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      if (X509_VERIFY_PARAM_set1_ip_asc(param, options_.verify_host.c_str()) != 1) {
        SSL_set1_host(ssl_, options_.verify_host.c_str());
      }
    }
  }
  read_end end = read_end::none;
  const int r = run([](SSL* s) { return SSL_connect(s); }, end, error);
  std::lock_guard lock(mutex_);
  result.alert_received = alert_received_;
  if (r > 0) {
    result.ok = true;
    result.version = SSL_get_version(ssl_);
    result.cipher = SSL_get_cipher_name(ssl_);
  } else {
    result.error = end == read_end::eof ? "connection closed during handshake" : error;
    if (end == read_end::timeout) result.error = "handshake " + error;
  }
  return result;
}

write_result tls_client::write_all(std::string_view data) {
  write_result result;
  while (!data.empty()) {
    read_end end = read_end::none;
    const std::size_t chunk = std::min<std::size_t>(data.size(), 1 << 14);
    const int r = run([&](SSL* s) { return SSL_write(s, data.data(), static_cast<int>(chunk)); }, end,
                      result.error);
    if (r <= 0) {
      if (result.error.empty()) result.error = std::string("write: ") + std::string(to_string(end));
      return result;
    }
    result.written += static_cast<std::uint64_t>(r);
    data.remove_prefix(static_cast<std::size_t>(r));
  }
  result.ok = true;
  return result;
}

write_result tls_client::write_stream(payload_source& source) {
  write_result result;
  std::vector<char> buffer(1 << 16);
  for (std::size_t n = source.next(buffer.data(), buffer.size()); n > 0; n = source.next(buffer.data(), buffer.size())) {
    auto part = write_all(std::string_view(buffer.data(), n));
    result.written += part.written;
    if (!part.ok) {
      result.error = part.error;
      return result;
    }
  }
  result.ok = true;
  return result;
}

read_result tls_client::read_exact(std::size_t n) {
  read_result result;
  std::vector<char> buffer(1 << 14);
  while (result.data.size() < n) {
    const std::size_t want = std::min(buffer.size(), n - result.data.size());
    const int r = run([&](SSL* s) { return SSL_read(s, buffer.data(), static_cast<int>(want)); }, result.end,
                      result.error);
    if (r <= 0) break;
    result.data.append(buffer.data(), static_cast<std::size_t>(r));
  }
  result.alert_received = last_alert_received();
  return result;
}

read_result tls_client::read_until_eof(std::size_t max_bytes) {
  read_result result;
  std::vector<char> buffer(1 << 14);
  while (result.data.size() < max_bytes) {
    const int r = run([&](SSL* s) { return SSL_read(s, buffer.data(), static_cast<int>(buffer.size())); },
                      result.end, result.error);
    if (r <= 0) break;
    result.data.append(buffer.data(), static_cast<std::size_t>(r));
  }
  result.alert_received = last_alert_received();
  return result;
}

stream_result tls_client::read_stream_to_end() { return read_stream(UINT64_MAX); }

stream_result tls_client::read_stream(std::uint64_t n) {
  stream_result result;
  sha256_hasher hasher;
  std::vector<char> buffer(1 << 16);
  while (result.bytes < n) {
    const auto want = static_cast<int>(std::min<std::uint64_t>(buffer.size(), n - result.bytes));
    const int r = run([&](SSL* s) { return SSL_read(s, buffer.data(), want); }, result.end, result.error);
    if (r <= 0) break;
    hasher.update(buffer.data(), static_cast<std::size_t>(r));
    result.bytes += static_cast<std::uint64_t>(r);
  }
  result.sha256 = hasher.hex();
  return result;
}

bool tls_client::shutdown() {
  read_end end = read_end::none;
  std::string error;
  // 0 means "close_notify sent, the peer's not yet seen": exactly a half-close.
  // The lambda maps that to progress so run() does not wait for the peer's.
  const int r = run(
      [](SSL* s) {
        const int rc = SSL_shutdown(s);
        return rc >= 0 ? 1 : rc;
      },
      end, error);
  return r > 0;
}

void tls_client::close() {
  std::lock_guard lock(mutex_);
  if (ssl_) SSL_free(ssl_);
  ssl_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

probe_result tls_client::probe(std::string_view payload) {
  probe_result result;
  auto w = write_all(payload);
  // Even when the write failed (the server may already have closed), read:
  // the alert that explains the refusal is waiting in our receive buffer.
  auto r = read_exact(payload.size());
  result.admitted = w.ok && r.data == payload;
  result.alert_received = last_alert_received();
  result.error = !w.ok ? w.error : r.error;
  result.version = version();
  return result;
}

std::string tls_client::last_alert_received() const {
  std::lock_guard lock(mutex_);
  return alert_received_;
}

std::string tls_client::version() const {
  std::lock_guard lock(mutex_);
  return ssl_ ? SSL_get_version(ssl_) : "";
}

std::string tls_client::peer_certificate_sha256() const {
  std::lock_guard lock(mutex_);
  X509* cert = ssl_ ? SSL_get0_peer_certificate(ssl_) : nullptr;
  if (!cert) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), md, &length) != 1) return {};
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 0x0f];
  }
  return hex;
}

std::string tls_client::ocsp_response() const {
  std::lock_guard lock(mutex_);
  const unsigned char* der = nullptr;
  const long length = ssl_ ? SSL_get_tlsext_status_ocsp_resp(ssl_, &der) : -1;
  if (length <= 0 || !der) return {};
  return std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
}

std::shared_ptr<SSL_SESSION> tls_client::session() const {
  std::lock_guard lock(mutex_);
  SSL_SESSION* s = ssl_ ? SSL_get1_session(ssl_) : nullptr;
  if (!s) return nullptr;
  std::shared_ptr<SSL_SESSION> owned(s, SSL_SESSION_free);
  if (SSL_SESSION_is_resumable(s) != 1) return nullptr;
  return owned;
}

void tls_client::offer_session(std::shared_ptr<SSL_SESSION> session) {
  std::lock_guard lock(mutex_);
  offered_session_ = std::move(session);
}

bool tls_client::session_reused() const {
  std::lock_guard lock(mutex_);
  return ssl_ && SSL_session_reused(ssl_) == 1;
}

int tcp_connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout, std::string* error) {
  const auto set_error = [&](const std::string& e) {
    if (error) *error = e;
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    set_error("bad address " + host);
    return -1;
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    set_error(std::string("socket: ") + std::strerror(errno));
    return -1;
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc != 0 && errno == EINPROGRESS) {
    if (!wait_fd(fd, POLLOUT, clock_type::now() + timeout)) {
      ::close(fd);
      set_error("connect timed out");
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    rc = so_error == 0 ? 0 : -1;
    errno = so_error;
  }
  if (rc != 0) {
    set_error(std::string("connect: ") + std::strerror(errno));
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::optional<std::chrono::milliseconds> wait_peer_close(int fd, std::chrono::milliseconds timeout) {
  const auto start = clock_type::now();
  const auto deadline = start + timeout;
  char buffer[4096];
  // Bounded by the deadline even if the peer keeps sending.
  while (clock_type::now() < deadline) {
    if (!wait_fd(fd, POLLIN, deadline)) return std::nullopt;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN))) continue;
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  }
  return std::nullopt;
}

std::string tcp_exchange(const std::string& host, std::uint16_t port, const std::string& payload,
                         std::chrono::milliseconds timeout) {
  const int fd = tcp_connect(host, port, timeout);
  if (fd < 0) return "";
  std::string got;
  if (::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(payload.size())) {
    char buffer[4096];
    while (got.size() < payload.size()) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) break;
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      got.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return got;
}

}  // namespace mtlsd::test
