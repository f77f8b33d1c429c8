#include "tls_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <stdexcept>

#include "process.hpp"

namespace mtlsd::test {
namespace {

std::string subject_of(X509* cert) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

std::string errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "closed" : out;
}

bool read_exact(int fd, std::string& out, std::size_t n) {
  while (n > 0) {
    char buf[512];
    const ssize_t got = ::recv(fd, buf, std::min(n, sizeof buf), 0);
    if (got <= 0) return false;
    out.append(buf, static_cast<std::size_t>(got));
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

// A PROXY v1 line or v2 header, byte-exact: not one byte of the ClientHello
// that follows may be taken. Lengths are the protocol's own (v1: at most 107
// bytes; v2: 16 bytes, then the announced length).
bool read_proxy_header(int fd, std::string& out) {
  static const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);
  if (!read_exact(fd, out, 12)) return false;
  if (out == v2_signature) {
    if (!read_exact(fd, out, 4)) return false;
    const std::size_t length = (static_cast<unsigned char>(out[14]) << 8) | static_cast<unsigned char>(out[15]);
    return read_exact(fd, out, length);
  }
  if (out.rfind("PROXY ", 0) != 0) return false;
  while (out.size() < 107 && out.compare(out.size() - 2, 2, "\r\n") != 0)
    if (!read_exact(fd, out, 1)) return false;
  return out.compare(out.size() - 2, 2, "\r\n") == 0;
}

}  // namespace

tls_backend::tls_backend(const tls_backend_options& options) {
  // OpenSSL writes with write(): a client that closed first (a health check
  // that got what it needed) must cost an EPIPE, not the test process.
  ignore_sigpipe();
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_ || SSL_CTX_use_certificate(ctx_, options.cert) != 1 || SSL_CTX_use_PrivateKey(ctx_, options.key) != 1)
    throw std::runtime_error("tls_backend: cannot set up the server context");
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (options.client_ca) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), options.client_ca);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // Resumption across connections needs one session id context.
  static const unsigned char id_context[] = "tls_backend";
  SSL_CTX_set_session_id_context(ctx_, id_context, sizeof id_context - 1);
  for (const auto& p : options.alpn) {
    alpn_wire_ += static_cast<char>(p.size());
    alpn_wire_ += p;
  }
  if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx_, &tls_backend::select_alpn, this);

  expect_proxy_header_ = options.proxy_header;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // A backend restarted on its port must not wait for the old one's TIME_WAITs.
  const int reuse = 1;
  if (listen_fd_ >= 0) ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(options.port);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("tls_backend: cannot listen on 127.0.0.1");
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

tls_backend::~tls_backend() {
  stopping_ = true;
  // shutdown() wakes a blocked accept() and blocked reads on Linux.
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : workers_) t.join();
  ::close(listen_fd_);
  SSL_CTX_free(ctx_);
}

int tls_backend::select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                             unsigned int inlen, void* self) {
  const auto& ours = static_cast<tls_backend*>(self)->alpn_wire_;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

void tls_backend::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_ || errno != EINTR) break;
      continue;
    }
    std::lock_guard lock(mutex_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void tls_backend::serve(int fd) {
  tls_backend_record record;
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd);
  if (expect_proxy_header_ && !read_proxy_header(fd, record.proxy_header)) {
    record.error = "no PROXY header before the handshake: \"" + record.proxy_header + "\"";
  } else if (SSL_accept(ssl) == 1) {
    record.handshake_ok = true;
    if (X509* peer = SSL_get0_peer_certificate(ssl)) record.client_subject = subject_of(peer);
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) record.sni = name;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    record.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    record.resumed = SSL_session_reused(ssl) == 1;
  } else {
    record.error = errors();
  }
  const bool ok = record.handshake_ok;
  {
    std::lock_guard lock(mutex_);
    records_.push_back(std::move(record));
  }
  changed_.notify_all();
  if (ok) {
    // TLS 1.3: the client's certificate is judged only now, when reading.
    char buf[16384];
    for (;;) {
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0 || SSL_write(ssl, buf, n) != n) break;
    }
    SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
  std::lock_guard lock(mutex_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
}

std::vector<tls_backend_record> tls_backend::wait_records(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [&] { return records_.size() >= count; }))
    throw std::runtime_error("tls_backend: " + std::to_string(records_.size()) + " of " + std::to_string(count) +
                             " handshakes seen");
  return records_;
}

}  // namespace mtlsd::test
