// The PROXY protocol through the real binary. Sending: a raw TCP backend
// captures the first bytes mtlsd sends and the v2 header is decoded here
// field by field, independently of mtlsd's own codec; v1 is compared as text.
// Receiving: this test plays the L4 balancer (v1, v2, LOCAL, malformed,
// oversized, slow headers).

#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "admin_client.hpp"
#include "integration.hpp"
#include "tls_backend.hpp"

namespace mtlsd::test {
namespace {

const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

struct decoded_tlv {
  std::uint8_t type = 0;
  std::string value;
};

std::uint16_t u16_at(const std::string& s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) | static_cast<unsigned char>(s[at + 1]));
}

std::vector<decoded_tlv> decode_tlvs(const std::string& s) {
  std::vector<decoded_tlv> out;
  for (std::size_t at = 0; at < s.size();) {
    if (s.size() - at < 3) throw harness_error("TLV cut inside its type/length");
    const std::size_t length = u16_at(s, at + 1);
    if (s.size() - at - 3 < length) throw harness_error("TLV runs past its container");
    out.push_back({static_cast<std::uint8_t>(s[at]), s.substr(at + 3, length)});
    at += 3 + length;
  }
  return out;
}

std::vector<std::string> values_of(const std::vector<decoded_tlv>& tlvs, std::uint8_t type) {
  std::vector<std::string> out;
  for (const auto& t : tlvs)
    if (t.type == type) out.push_back(t.value);
  return out;
}

std::string ipv4_text(const std::string& s, std::size_t at) {
  return std::to_string(static_cast<unsigned char>(s[at])) + "." +
         std::to_string(static_cast<unsigned char>(s[at + 1])) + "." +
         std::to_string(static_cast<unsigned char>(s[at + 2])) + "." +
         std::to_string(static_cast<unsigned char>(s[at + 3]));
}

std::uint16_t local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

std::string serial_of(const issued& leaf) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.cert.get()), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string der_of(const issued& leaf) {
  const int size = i2d_X509(leaf.cert.get(), nullptr);
  std::string out(static_cast<std::size_t>(size), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509(leaf.cert.get(), &p);
  return out;
}

bool send_all(int fd, std::string_view data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

class proxy_protocol : public mtlsd_test {
 protected:
  // A client certificate with everything the TLVs carry.
  issued make_client() {
    cert_spec spec;
    spec.cn = {"pp-client"};
    spec.o = {"Example Partners"};
    spec.uri = {"spiffe://example.org/ns/prod/sa/api"};
    return pki().client(spec);
  }

  // One TLS round trip through mtlsd: "hello" up, close_notify; returns
  // what the backend received first (header + "hello") and the client's port.
  std::pair<std::string, std::uint16_t> send_hello(const issued& leaf, tls_client_options options) {
    options.identity = client_identity::of(leaf);
    tls_client client(options);
    const auto hs = client.connect(loopback, port());
    EXPECT_TRUE(hs.ok) << hs.error;
    const auto client_port = local_port(client.fd());
    EXPECT_TRUE(client.write_all("hello").ok);
    client.shutdown();
    const auto records = capture_.wait_finished(1);
    return {records.front().data, client_port};
  }

  loopback_server capture_{sink_handler({})};
};

TEST_F(proxy_protocol, v2_header_carries_addresses_and_every_tls_tlv) {
  auto& d = start(
      {{},
       {},
       {service(
           capture_.connect_url(), "require",
           {R"(proxy_protocol = "v2")",
            R"(proxy_protocol_tlvs = ["alpn", "authority", "ssl", "cert_sha256", "spiffe_id", "subject", "issuer", "serial", "cert_der"])"})}});
  const auto leaf = make_client();
  const auto [data, client_port] = send_hello(leaf, client_options());
  const auto access = d.wait_event("access");

  ASSERT_GE(data.size(), 16u);
  ASSERT_EQ(data.substr(0, 12), v2_signature);
  EXPECT_EQ(static_cast<unsigned char>(data[12]), 0x21) << "version 2, PROXY";
  EXPECT_EQ(static_cast<unsigned char>(data[13]), 0x11) << "TCP over IPv4";
  const std::size_t length = u16_at(data, 14);
  ASSERT_EQ(data.size(), 16 + length + 5) << "the header, then exactly the client's bytes";
  EXPECT_EQ(data.substr(16 + length), "hello");
  const std::string payload = data.substr(16, length);
  EXPECT_EQ(ipv4_text(payload, 0), "127.0.0.1");
  EXPECT_EQ(ipv4_text(payload, 4), "127.0.0.1");
  EXPECT_EQ(u16_at(payload, 8), client_port);
  EXPECT_EQ(u16_at(payload, 10), port());

  const auto tlvs = decode_tlvs(payload.substr(12));
  EXPECT_TRUE(values_of(tlvs, 0x01).empty()) << "no ALPN was negotiated";
  EXPECT_EQ(values_of(tlvs, 0x02), std::vector<std::string>{"localhost"}) << "authority = SNI";
  const auto ssl = values_of(tlvs, 0x20);
  ASSERT_EQ(ssl.size(), 1u);
  ASSERT_GE(ssl[0].size(), 5u);
  EXPECT_EQ(static_cast<unsigned char>(ssl[0][0]), 0x07) << "PP2_CLIENT_SSL | CERT_CONN | CERT_SESS";
  EXPECT_EQ(ssl[0].substr(1, 4), std::string(4, '\0')) << "verify = 0: verified";
  const auto subs = decode_tlvs(ssl[0].substr(5));
  EXPECT_EQ(values_of(subs, 0x21), std::vector<std::string>{access.get("tls_version")});
  EXPECT_EQ(values_of(subs, 0x22), std::vector<std::string>{"pp-client"});
  EXPECT_EQ(values_of(subs, 0x23), std::vector<std::string>{access.get("cipher")});
  EXPECT_EQ(values_of(subs, 0x24), std::vector<std::string>{"ecdsa-with-SHA256"});
  EXPECT_EQ(values_of(subs, 0x25), std::vector<std::string>{"EC256"});

  EXPECT_EQ(values_of(tlvs, 0xE0), std::vector<std::string>{leaf.sha256_hex()});
  EXPECT_EQ(values_of(tlvs, 0xE1), std::vector<std::string>{"spiffe://example.org/ns/prod/sa/api"});
  EXPECT_EQ(values_of(tlvs, 0xE2), std::vector<std::string>{access.get("subject")});
  EXPECT_NE(access.get("subject").find("CN=pp-client"), std::string::npos);
  EXPECT_EQ(values_of(tlvs, 0xE3), std::vector<std::string>{access.get("issuer")});
  EXPECT_EQ(values_of(tlvs, 0xE4), std::vector<std::string>{serial_of(leaf)});
  EXPECT_EQ(values_of(tlvs, 0xE5), std::vector<std::string>{der_of(leaf)});
}

TEST_F(proxy_protocol, default_tlvs_leave_out_the_der_certificate) {
  start({{}, {}, {service(capture_.connect_url(), "require", {R"(proxy_protocol = "v2")"})}});
  const auto leaf = make_client();
  const auto [data, client_port] = send_hello(leaf, client_options());
  ASSERT_GE(data.size(), 28u);
  const auto tlvs = decode_tlvs(data.substr(28, u16_at(data, 14) - 12));
  EXPECT_TRUE(values_of(tlvs, 0xE5).empty());
  EXPECT_EQ(values_of(tlvs, 0xE0), std::vector<std::string>{leaf.sha256_hex()});
  EXPECT_EQ(values_of(tlvs, 0x20).size(), 1u);
}

TEST_F(proxy_protocol, v1_header_is_one_line_before_the_client_bytes) {
  start({{}, {}, {service(capture_.connect_url(), "require", {R"(proxy_protocol = "v1")"})}});
  const auto [data, client_port] = send_hello(make_client(), client_options());
  EXPECT_EQ(data, "PROXY TCP4 127.0.0.1 127.0.0.1 " + std::to_string(client_port) + " " + std::to_string(port()) +
                      "\r\nhello");
}

// The balancer side: mtlsd behind an L4 balancer that speaks PROXY.
class proxy_protocol_accept : public proxy_protocol {
 protected:
  // A tcp:// listener behind "the balancer" (this test), forwarding v1, with
  // an admin endpoint for the counters.
  mtlsd_daemon& start_plain() {
    service_spec svc = service(capture_.connect_url(), "");
    svc.accept = "tcp://127.0.0.1:0";
    svc.tls_files = false;
    svc.lines = {"accept_proxy_protocol = true", R"(proxy_protocol = "v1")", R"(proxy_protocol_timeout = "500ms")"};
    config_spec spec;
    spec.services.push_back(svc);
    pki();
    const auto path = dir_ / "mtlsd.toml";
    write_file(path, render_config(spec) + "[admin]\nlisten = \"127.0.0.1:0\"\n");
    daemon_ = std::make_unique<mtlsd_daemon>(mtlsd_binary, path);
    admin_address_ = daemon_->wait_event("admin_listening", {}, 1s).get("addr");
    return *daemon_;
  }

  metrics_text scrape() {
    const auto reply = http_request(admin_address_, "/metrics");
    if (reply.status != 200) throw harness_error("GET /metrics: " + reply.describe());
    return metrics_text::parse(reply.body);
  }

  std::string admin_address_;

  // Connects, sends `bytes` and half-closes; returns the fd.
  int balancer_sends(std::string_view bytes, bool half_close = true) {
    const int fd = tcp_connect(loopback, port(), 5s);
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(send_all(fd, bytes));
    if (half_close) ::shutdown(fd, SHUT_WR);
    return fd;
  }
};

std::string v2_header(std::uint8_t ver_cmd, std::uint8_t family, const std::string& payload) {
  std::string out = v2_signature;
  out += static_cast<char>(ver_cmd);
  out += static_cast<char>(family);
  out += static_cast<char>(payload.size() >> 8);
  out += static_cast<char>(payload.size() & 0xFF);
  return out + payload;
}

TEST_F(proxy_protocol_accept, v1_source_replaces_the_peer_and_is_forwarded) {
  auto& d = start_plain();
  const int fd = balancer_sends("PROXY TCP4 203.0.113.7 192.0.2.1 40001 443\r\nhello");
  const auto access = d.wait_event("access");
  ::close(fd);
  EXPECT_EQ(access.get("peer"), "203.0.113.7:40001");
  EXPECT_EQ(access.get("via").rfind("127.0.0.1:", 0), 0u) << access.get("via");
  EXPECT_EQ(capture_.wait_finished(1).front().data, "PROXY TCP4 203.0.113.7 192.0.2.1 40001 443\r\nhello");
}

TEST_F(proxy_protocol_accept, v2_tcp6_source_replaces_the_peer_and_local_keeps_the_real_one) {
  auto& d = start_plain();
  std::string addresses(36, '\0');
  addresses[0] = '\x20', addresses[1] = '\x01', addresses[2] = '\x0d', addresses[3] = '\xb8', addresses[15] = '\x05';
  addresses[16] = '\x20', addresses[17] = '\x01', addresses[18] = '\x0d', addresses[19] = '\xb8',
  addresses[31] = '\x01';
  addresses[32] = '\x9c', addresses[33] = '\x42';  // 40002
  addresses[34] = '\x01', addresses[35] = '\xbb';  // 443
  // A TLV we do not know is skipped, not refused.
  int fd = balancer_sends(v2_header(0x21, 0x21, addresses + std::string("\xEA\x00\x02xy", 5)) + "hello");
  auto access = d.wait_event("access");
  ::close(fd);
  EXPECT_EQ(access.get("peer"), "[2001:db8::5]:40002");
  EXPECT_EQ(capture_.wait_finished(1).front().data, "PROXY TCP6 2001:db8::5 2001:db8::1 40002 443\r\nhello");

  fd = balancer_sends(v2_header(0x20, 0x00, "") + "hello");
  access = d.wait_events("access", {}, 2).back();
  ::close(fd);
  EXPECT_EQ(access.get("peer").rfind("127.0.0.1:", 0), 0u) << "LOCAL: the balancer's own connection";
  EXPECT_FALSE(access.has("via"));
}

TEST_F(proxy_protocol_accept, bad_headers_close_the_connection_with_a_reason_and_the_daemon_keeps_serving) {
  auto& d = start_plain();
  struct bad_case {
    std::string bytes;
    std::string reason;
    std::string detail_part;
  };
  const std::vector<bad_case> cases = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "malformed", "no PROXY protocol signature"},
      {"PROXY TCP4 203.0.113.7 192.0.2.1 40001 99999\r\n", "malformed", "port \"99999\""},
      {"PROXY TCP4 " + std::string(120, '1'), "too_large", "107"},
      {v2_header(0x21, 0x11, std::string(5000, '\0')), "too_large", "5000 bytes"},
      {v2_header(0x21, 0x11, std::string(8, '\0')), "malformed", "address block"},
  };
  std::size_t n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason + ": " + c.detail_part);
    const int fd = balancer_sends(c.bytes, false);
    EXPECT_TRUE(wait_peer_close(fd, 5s)) << "the connection must be closed";
    ::close(fd);
    ++n;
    const auto rejected = d.wait_events("proxy_header_rejected", {}, n).back();
    EXPECT_EQ(rejected.level, "warn");
    EXPECT_EQ(rejected.get("reason"), c.reason);
    EXPECT_NE(rejected.get("detail").find(c.detail_part), std::string::npos) << rejected.get("detail");
    EXPECT_EQ(rejected.get("peer").rfind("127.0.0.1:", 0), 0u);
    EXPECT_EQ(d.wait_events("access", {}, n).back().get("close"), "proxy_header_invalid");
  }
  EXPECT_EQ(capture_.accepted(), 0u) << "no refused connection reaches the backend";

  // A TCP health check: connect, close, not a byte.
  const int probe = balancer_sends("", true);
  ::close(probe);
  const auto closed = d.wait_event("proxy_header_rejected", {{"reason", "closed"}});
  EXPECT_EQ(closed.level, "info");

  // Slow: part of a header, then nothing.
  const auto started = std::chrono::steady_clock::now();
  const int slow = balancer_sends("PROXY TCP4 203.0.", false);
  EXPECT_TRUE(wait_peer_close(slow, 5s));
  ::close(slow);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 400ms);
  const auto timeout = d.wait_event("proxy_header_rejected", {{"reason", "timeout"}});
  EXPECT_NE(timeout.get("detail").find("within 500ms"), std::string::npos) << timeout.get("detail");

  const int good = balancer_sends("PROXY TCP4 203.0.113.9 192.0.2.1 40003 443\r\nstill");
  d.wait_event("access", {{"peer", "203.0.113.9:40003"}});
  ::close(good);
  EXPECT_EQ(capture_.wait_finished(1).front().data, "PROXY TCP4 203.0.113.9 192.0.2.1 40003 443\r\nstill");

  const auto metrics = scrape();
  const auto rejections = [&](const std::string& reason) {
    return metrics.integer("mtlsd_proxy_header_rejections_total", {{"service", "svc"}, {"reason", reason}});
  };
  EXPECT_EQ(rejections("malformed"), 3);
  EXPECT_EQ(rejections("too_large"), 2);
  EXPECT_EQ(rejections("timeout"), 1);
  EXPECT_EQ(rejections("closed"), 1);
  EXPECT_EQ(metrics.integer("mtlsd_proxy_headers_sent_total", {{"service", "svc"}}), 1);
}

TEST_F(proxy_protocol_accept, tls_listener_reads_the_header_then_the_handshake) {
  service_spec svc =
      service(capture_.connect_url(), "require", {"accept_proxy_protocol = true", R"(proxy_protocol = "v1")"});
  auto& d = start({{}, {}, {svc}});
  auto options = client_options();
  options.preamble = "PROXY TCP4 198.51.100.20 192.0.2.1 50000 443\r\n";
  const auto [data, client_port] = send_hello(make_client(), options);
  EXPECT_EQ(data, "PROXY TCP4 198.51.100.20 192.0.2.1 50000 443\r\nhello");
  const auto access = d.wait_event("access");
  EXPECT_EQ(access.get("peer"), "198.51.100.20:50000");
  EXPECT_EQ(access.get("verify"), "ok");
}

TEST_F(proxy_protocol, v2_from_a_tcp_listener_carries_addresses_only) {
  service_spec svc = service(capture_.connect_url(), "", {R"(proxy_protocol = "v2")"});
  svc.accept = "tcp://127.0.0.1:0";
  svc.tls_files = false;
  start({{}, {}, {svc}});
  const int fd = tcp_connect(loopback, port(), 5s);
  ASSERT_GE(fd, 0);
  const auto client_port = local_port(fd);
  ASSERT_TRUE(send_all(fd, "plain"));
  ::shutdown(fd, SHUT_WR);
  const auto data = capture_.wait_finished(1).front().data;
  ::close(fd);
  ASSERT_EQ(data.size(), 16u + 12u + 5u) << "no TLV: there is no TLS connection to describe";
  EXPECT_EQ(data.substr(0, 12), v2_signature);
  EXPECT_EQ(u16_at(data, 14), 12u);
  EXPECT_EQ(u16_at(data, 24), client_port);
  EXPECT_EQ(u16_at(data, 26), port());
  EXPECT_EQ(data.substr(28), "plain");
}

// A real consumer: HAProxy (Debian's haproxy package) with accept-proxy
// answers with what it took from our header: "src=<ip>:<port> authority=<sni>".
class haproxy_consumer : public proxy_protocol {
 protected:
  // The reply to one HTTP request sent through mtlsd with `proxy_protocol =
  // version`; sets `client_port_`. Empty when HAProxy is not installed.
  std::string round_trip(const std::string& version) {
    const std::filesystem::path haproxy = "/usr/sbin/haproxy";
    if (!std::filesystem::exists(haproxy)) return "";
    const std::uint16_t haproxy_port = closed_port();
    const auto config = dir_ / "haproxy.cfg";
    write_file(config,
               "global\n"
               "defaults\n"
               "  mode http\n"
               "  timeout connect 5s\n"
               "  timeout client 10s\n"
               "  timeout server 10s\n"
               "frontend pp\n"
               "  bind 127.0.0.1:" +
                   std::to_string(haproxy_port) +
                   " accept-proxy\n"
                   "  http-request return status 200 content-type text/plain "
                   "lf-string \"src=%[src]:%[src_port] authority=%[fc_pp_authority]\\n\"\n");
    consumer_.emplace(std::vector<std::string>{haproxy.string(), "-db", "-f", config.string()});
    // HAProxy prints nothing when ready in the foreground: its listening
    // socket accepting a connection is the signal (bounded).
    bool up = false;
    for (int attempt = 0; attempt < 100 && !up; ++attempt) {
      const int fd = tcp_connect(loopback, haproxy_port, 1s);
      up = fd >= 0;
      if (fd >= 0)
        ::close(fd);
      else
        std::this_thread::sleep_for(50ms);
    }
    if (!up) return "haproxy did not start: " + consumer_->all_output();

    start({{},
           {},
           {service("tcp://127.0.0.1:" + std::to_string(haproxy_port), "require",
                    {"proxy_protocol = \"" + version + "\""})}});
    const auto leaf = make_client();
    tls_client client(client_options(client_identity::of(leaf)));
    if (!client.connect(loopback, port()).ok) return "no handshake with mtlsd";
    client_port_ = local_port(client.fd());
    if (!client.write_all("GET / HTTP/1.0\r\nHost: pp\r\n\r\n").ok) return "request not sent";
    return client.read_until_eof().data;
  }

  std::optional<process> consumer_;
  std::uint16_t client_port_ = 0;
};

TEST_F(haproxy_consumer, reads_the_client_address_and_authority_from_our_v2_header) {
  if (!std::filesystem::exists("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy not installed (Debian package haproxy)";
  const std::string reply = round_trip("v2");
  EXPECT_NE(reply.find("src=127.0.0.1:" + std::to_string(client_port_) + " authority=localhost\n"),
            std::string::npos)
      << reply << (consumer_ ? consumer_->all_output() : "");
}

TEST_F(haproxy_consumer, reads_the_client_address_from_our_v1_header) {
  if (!std::filesystem::exists("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy not installed (Debian package haproxy)";
  const std::string reply = round_trip("v1");
  // v1 carries addresses only: no authority.
  EXPECT_NE(reply.find("src=127.0.0.1:" + std::to_string(client_port_) + " authority=\n"), std::string::npos)
      << reply << (consumer_ ? consumer_->all_output() : "");
}

TEST_F(proxy_protocol, v2_header_carries_the_alpn_protocol_negotiated_with_the_client) {
  start({{},
         {},
         {service(capture_.connect_url(), "require",
                  {R"(proxy_protocol = "v2")", R"(alpn = ["h2", "http/1.1"])"})}});
  auto options = client_options();
  options.alpn = {"h2"};
  const auto [data, client_port] = send_hello(make_client(), options);
  ASSERT_GE(data.size(), 28u);
  ASSERT_EQ(data.substr(0, 12), v2_signature);
  const std::size_t length = u16_at(data, 14);
  ASSERT_EQ(data.size(), 16 + length + 5);
  EXPECT_EQ(u16_at(data, 24), client_port);
  const auto tlvs = decode_tlvs(data.substr(28, length - 12));
  EXPECT_EQ(values_of(tlvs, 0x01), std::vector<std::string>{"h2"}) << "PP2_TYPE_ALPN";
  EXPECT_EQ(daemon().wait_event("access").get("alpn"), "h2");
}

// The whole gateway: mTLS in, PROXY v2 out, then TLS with our client
// certificate to two backends that each read the header before their
// handshake (as HAProxy's accept-proxy with ssl does), balanced round robin.
TEST_F(proxy_protocol, gateway_sends_the_header_before_the_upstream_handshake_to_each_tls_backend) {
  cert_spec backend_spec;
  backend_spec.cn = {"backend"};
  backend_spec.ip = {"127.0.0.1"};
  backend_spec.eku = eku_kind::server_auth;
  const issued backend_cert = issue(backend_spec, pki().server_ca);
  cert_spec ours;
  ours.cn = {"mtlsd-upstream"};
  const auto upstream_client = pki().write_client("upstream", pki().client(ours));
  tls_backend_options o;
  o.cert = backend_cert.cert.get();
  o.key = backend_cert.key.get();
  o.client_ca = pki().client_ca.cert.get();  // our client certificate is required
  o.proxy_header = true;
  tls_backend first(o), second(o);

  service_spec s = service("", "require",
                           {R"(proxy_protocol = "v2")",
                            "upstream = { cert = " + toml_string(upstream_client.cert_file.string()) +
                                ", key = " + toml_string(upstream_client.key_file.string()) +
                                ", truststore = \"server-ca.crt\" }"});
  s.connect_list = {"tls://127.0.0.1:" + std::to_string(first.port()),
                    "tls://127.0.0.1:" + std::to_string(second.port())};
  auto& d = start({{}, {}, {s}});

  const auto leaf = make_client();
  std::set<std::uint16_t> client_ports;
  for (int i = 0; i < 4; ++i) {
    tls_client client(client_options(client_identity::of(leaf)));
    ASSERT_TRUE(client.connect(loopback, port()).ok) << "client " << i;
    client_ports.insert(local_port(client.fd()));
    const std::string message = "hello " + std::to_string(i);
    ASSERT_TRUE(client.write_all(message).ok);
    const auto echoed = client.read_exact(message.size());
    EXPECT_EQ(echoed.data, message) << "client " << i;
    client.shutdown();
    d.wait_events("access", {}, static_cast<std::size_t>(i) + 1);
  }
  ASSERT_EQ(client_ports.size(), 4u);

  std::set<std::uint16_t> seen_ports;
  for (tls_backend* b : {&first, &second}) {
    const auto records = b->wait_records(2);
    ASSERT_EQ(records.size(), 2u) << "round robin: two connections each";
    for (const auto& r : records) {
      ASSERT_TRUE(r.handshake_ok) << r.error;
      EXPECT_NE(r.client_subject.find("CN=mtlsd-upstream"), std::string::npos) << r.client_subject;
      const std::string& header = r.proxy_header;
      ASSERT_GE(header.size(), 28u);
      ASSERT_EQ(header.substr(0, 12), v2_signature);
      EXPECT_EQ(static_cast<unsigned char>(header[13]), 0x11) << "TCP over IPv4";
      ASSERT_EQ(header.size(), 16u + u16_at(header, 14));
      EXPECT_EQ(ipv4_text(header, 16), "127.0.0.1");
      seen_ports.insert(u16_at(header, 24));
      EXPECT_EQ(u16_at(header, 26), port());
      const auto tlvs = decode_tlvs(header.substr(28));
      EXPECT_EQ(values_of(tlvs, 0xE0), std::vector<std::string>{leaf.sha256_hex()}) << "cert_sha256";
    }
  }
  EXPECT_EQ(seen_ports, client_ports) << "each header names its own client's address";
  EXPECT_TRUE(d.events("upstream_handshake_failed").empty());
}

}  // namespace
}  // namespace mtlsd::test
