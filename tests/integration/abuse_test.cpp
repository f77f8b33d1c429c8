// Hostile clients: bytes that are not a ClientHello, hellos of dead protocol
// versions, oversized records and hellos, slowloris before and during the
// handshake, a handshake dribbled one byte per segment, resets mid-handshake
// and mid-stream, a tampered record, TLS 1.2 renegotiation and TLS 1.3 early
// data. Each one must cost only its own connection — closed with a logged
// reason — and a good client must still get through afterwards.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "integration.hpp"
#include "pumped_tls_client.hpp"
#include "raw_tls.hpp"

namespace mtlsd::test {
namespace {

using clock_type = std::chrono::steady_clock;

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// SIGTERM, then a drained, clean exit: no sanitizer report (a leak included,
// which LeakSanitizer reports at exit) and exit status 0.
void expect_clean_stop(mtlsd_daemon& d) {
  d.proc().send_signal(SIGTERM);
  const auto status = d.proc().wait_exit_and_output(30s);
  ASSERT_TRUE(status.has_value()) << "still running 30 s after SIGTERM";
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(d.output().find("Sanitizer"), std::string::npos) << d.output();
}

class abuse : public mtlsd_test {
 protected:
  // One require-mode service in front of an echo backend. handshake_timeout
  // is long unless `lines` say otherwise, so "closed at once" and "closed at
  // the timeout" cannot be confused.
  mtlsd_daemon& start_service(std::vector<std::string> lines = {R"(handshake_timeout = "10s")"}) {
    config_spec config;
    config.services.push_back(service(backend_.connect_url(), "require", std::move(lines)));
    auto& d = start(config);
    leaf_ = pki().client();
    return d;
  }

  tls_client_options good_options(int max_version = 0) {
    auto o = client_options(client_identity::of(leaf_));
    o.max_version = max_version;
    return o;
  }

  // The daemon still serves: a fresh, valid client gets its bytes echoed.
  void expect_good_client_gets_through() {
    tls_client client(good_options());
    auto hs = client.connect(loopback, port());
    ASSERT_TRUE(hs.ok) << hs.error;
    auto probe = client.probe("still serving\n");
    EXPECT_TRUE(probe.admitted) << probe.error;
    EXPECT_TRUE(daemon().proc().running());
  }

  // A real ClientHello (OpenSSL's, as a client with our certificate sends it)
  // and the client that made it, for tests that stop or slow down after it.
  std::string real_client_hello(pumped_tls_client& client) {
    return client.produce([](SSL* s) { return SSL_do_handshake(s); });
  }

  loopback_server backend_{echo_handler()};
  issued leaf_;
};

// ---------------------------------------------------------------------------
// Not a (usable) ClientHello.

struct refused_bytes {
  std::string name;
  std::string bytes;
  std::string alert;      // what mtlsd answers with; "" = no alert expected (reply may be cut by RST)
  std::string reason;     // handshake_failed reason=
  std::string detail;     // substring of detail=
};

// gtest prints parameters; the case name says enough.
void PrintTo(const refused_bytes& c, std::ostream* os) { *os << c.name; }

std::string many_kib(std::size_t kib, std::uint64_t seed) { return payload_source::make(kib * 1024, seed); }

std::vector<refused_bytes> refused_cases() {
  std::vector<refused_bytes> cases;
  hello_spec sslv3;
  sslv3.record_version = 0x0300;
  sslv3.client_version = 0x0300;
  sslv3.cipher_suites = {0x002f, 0x0035, 0x000a};  // RSA key exchange, CBC: what SSLv3 clients offer
  // SSLv3 has no protocol_version alert (RFC 6101 5.4.2); OpenSSL answers an
  // SSLv3 record with handshake_failure instead.
  cases.push_back({"sslv3_client_hello", tls_records(0x16, 0x0300, client_hello_message(sslv3)), "handshake_failure",
                   "protocol_version", "client offered SSLv3 at most"});
  for (std::uint16_t version : {std::uint16_t{0x0301}, std::uint16_t{0x0302}}) {
    hello_spec old;
    old.record_version = 0x0301;
    old.client_version = version;
    old.cipher_suites = {0xc013, 0xc014, 0x002f};  // ECDHE-RSA-AES-CBC-SHA: the TLS 1.0/1.1 staples
    old.extensions = legacy_extensions();
    cases.push_back({version == 0x0301 ? "tls10_client_hello" : "tls11_client_hello",
                     tls_records(0x16, 0x0301, client_hello_message(old)), "protocol_version", "protocol_version",
                     version == 0x0301 ? "client offered TLSv1.0 at most" : "client offered TLSv1.1 at most"});
  }
  // 1 KiB of noise that does not start like a TLS record.
  std::string noise = many_kib(1, 11);
  noise[0] = '\x42';
  noise[1] = '\x42';
  cases.push_back({"random_bytes", noise, "", "other", "wrong version number"});
  // A handshake record whose body is noise.
  cases.push_back({"handshake_record_of_noise", tls_records(0x16, 0x0301, many_kib(1, 12).substr(0, 300)),
                   "", "other", "unexpected message"});
  // Application data before any handshake.
  cases.push_back({"application_data_first", tls_records(0x17, 0x0303, std::string(64, 'a')), "unexpected_message",
                   "other", "unexpected message"});
  // A record header announcing 65535 bytes, more than any TLS record may
  // carry (RFC 8446 5.1: 2^14 plaintext): refused on the header alone.
  cases.push_back({"record_longer_than_tls_allows", record_header(0x16, 0x0301, 0xffff), "record_overflow",
                   "other", "length too long"});
  // A ClientHello of about 190 KiB in legal 16 KiB records: three unknown
  // extensions of 64000 bytes each. OpenSSL caps a ClientHello at 128 KiB
  // (CLIENT_HELLO_MAX_LENGTH) and refuses it from the message header.
  hello_spec huge;
  huge.extensions = legacy_extensions();
  for (std::uint16_t type : {std::uint16_t{0x7a01}, std::uint16_t{0x7a02}, std::uint16_t{0x7a03}})
    huge.extensions.emplace_back(type, std::string(64000, 'x'));
  cases.push_back({"client_hello_larger_than_128_kib", tls_records(0x16, 0x0301, client_hello_message(huge)),
                   "illegal_parameter", "other", "excessive message size"});
  return cases;
}

class refused_input : public abuse, public ::testing::WithParamInterface<refused_bytes> {};

TEST_P(refused_input, is_refused_at_once_with_a_logged_reason_and_costs_nothing_else) {
  const auto& c = GetParam();
  auto& d = start_service();
  std::string error;
  fd_guard sock{tcp_connect(loopback, port(), 5s, &error)};
  ASSERT_GE(sock.fd, 0) << error;
  // The peer may close while we are still sending the oversized cases.
  send_all(sock.fd, c.bytes);

  const raw_reply reply = read_until_closed(sock.fd, 8s);
  EXPECT_TRUE(reply.closed) << "still open 8 s later (handshake_timeout is 10 s)";
  EXPECT_LT(reply.elapsed, 3s) << "closed only after " << reply.elapsed.count() << " ms";
  if (!c.alert.empty()) {
    const auto alert = first_alert(reply.bytes);
    ASSERT_TRUE(alert.has_value()) << "no alert in " << reply.bytes.size() << " reply bytes";
    EXPECT_EQ(alert_name(*alert), c.alert);
  }
  const auto failed = d.wait_event("handshake_failed");
  EXPECT_EQ(failed.level, "warn");
  EXPECT_EQ(failed.get("reason"), c.reason) << failed.get("detail");
  EXPECT_NE(failed.get("detail").find(c.detail), std::string::npos) << failed.get("detail");
  const auto access = d.wait_event("access");
  EXPECT_EQ(access.get("close"), "handshake_failed");
  EXPECT_EQ(access.get("reason"), c.reason);
  EXPECT_EQ(access.get("backend"), "-");
  EXPECT_EQ(backend_.accepted(), 0u);
  expect_good_client_gets_through();
  expect_clean_stop(d);
}

INSTANTIATE_TEST_SUITE_P(cases, refused_input, ::testing::ValuesIn(refused_cases()),
                         [](const ::testing::TestParamInfo<refused_bytes>& p) { return p.param.name; });

// ---------------------------------------------------------------------------
// Slowloris.

TEST_F(abuse, trickling_a_client_hello_does_not_extend_handshake_timeout) {
  auto& d = start_service({R"(handshake_timeout = "1s")"});
  pumped_tls_client client(good_options());
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  const std::string hello = real_client_hello(client);
  ASSERT_GT(hello.size(), 100u);

  // One byte every 50 ms: each byte is progress, but the deadline counts
  // from the connect, so the hello (some 15 s at this rate) never finishes.
  const auto started = clock_type::now();
  std::size_t sent = 0;
  bool closed = false;
  while (sent < hello.size() && clock_type::now() - started < 6s) {
    if (::send(client.fd(), hello.data() + sent, 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    ++sent;
    pollfd p{client.fd(), POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {  // the pacing, and the close when it comes
      char byte;
      if (::recv(client.fd(), &byte, 1, MSG_DONTWAIT) <= 0) {
        closed = true;
        break;
      }
    }
  }
  const auto took = clock_type::now() - started;
  EXPECT_TRUE(closed) << "still open after trickling " << sent << " bytes";
  EXPECT_LT(sent, hello.size());
  EXPECT_GE(took, 800ms);
  EXPECT_LE(took, 4s);
  EXPECT_EQ(d.wait_event("handshake_failed").get("reason"), "timeout");
  EXPECT_EQ(d.wait_event("access").get("reason"), "timeout");
  expect_good_client_gets_through();
}

class stalled_handshake : public abuse, public ::testing::WithParamInterface<int> {};

// Slowloris during the handshake: a real ClientHello, the server's flight read,
// and then silence instead of the client's Certificate and Finished. Twenty
// of them at once must not keep a good client out, and each is closed at
// handshake_timeout.
TEST_P(stalled_handshake, clients_that_stop_after_the_server_flight_are_closed_at_handshake_timeout) {
  auto& d = start_service({R"(handshake_timeout = "2s")"});
  constexpr int stalled_count = 20;
  std::vector<std::unique_ptr<pumped_tls_client>> stalled;
  for (int i = 0; i < stalled_count; ++i) {
    auto c = std::make_unique<pumped_tls_client>(good_options(GetParam()));
    ASSERT_TRUE(c->connect_tcp(loopback, port()));
    const std::string hello = real_client_hello(*c);
    ASSERT_TRUE(c->send_paced(hello));
    // The server's flight (ServerHello...; for TLS 1.3 up to its Finished).
    ASSERT_TRUE(c->receive_some(5s)) << "no server flight for stalled client " << i;
    stalled.push_back(std::move(c));
  }
  const auto stalled_at = clock_type::now();

  expect_good_client_gets_through();
  EXPECT_LT(clock_type::now() - stalled_at, 2s) << "the good client waited for the stalled ones";

  for (auto& c : stalled) {
    const auto closed_after = wait_peer_close(c->fd(), 6s);
    ASSERT_TRUE(closed_after.has_value()) << "a stalled handshake is still open 6 s later";
  }
  EXPECT_GE(clock_type::now() - stalled_at, 1500ms);
  const auto failures = d.wait_events("handshake_failed", {{"reason", "timeout"}}, stalled_count);
  EXPECT_EQ(failures.size(), static_cast<std::size_t>(stalled_count));
  EXPECT_NE(failures.front().get("detail").find("not completed within 2s"), std::string::npos)
      << failures.front().get("detail");
  EXPECT_EQ(d.wait_events("access", {{"close", "handshake_failed"}}, stalled_count).size(),
            static_cast<std::size_t>(stalled_count));
  // Only the good client ever reached the backend.
  EXPECT_EQ(backend_.accepted(), 1u);
  expect_good_client_gets_through();
  expect_clean_stop(d);
}

INSTANTIATE_TEST_SUITE_P(versions, stalled_handshake, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return std::string(p.param == TLS1_3_VERSION ? "tls13" : "tls12");
                         });

// ---------------------------------------------------------------------------
// A whole handshake, one byte per TCP segment.

class byte_by_byte : public abuse, public ::testing::WithParamInterface<int> {};

TEST_P(byte_by_byte, handshake_sent_one_byte_per_segment_completes_and_proxies) {
  auto& d = start_service();
  pumped_tls_client client(good_options(GetParam()));
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  // TCP_NODELAY and a pause between sends: every byte leaves as a segment
  // of its own, so mtlsd's reads see records split at every offset.
  client.set_pacing(1, std::chrono::microseconds(100));
  auto hs = client.handshake();
  ASSERT_TRUE(hs.ok) << hs.error;
  EXPECT_GT(client.bytes_sent(), 600u) << "the client flight should include a certificate";
  ASSERT_TRUE(client.write("dribbled\n").ok);
  EXPECT_EQ(client.read_exact(9).data, "dribbled\n");
  ASSERT_TRUE(client.run([](SSL* s) { return SSL_shutdown(s) >= 0 ? 1 : -1; }).ok);
  EXPECT_EQ(client.read_until_end().end, read_end::close_notify);

  const auto access = d.wait_event("access");
  EXPECT_EQ(access.get("close"), "client_closed");
  EXPECT_EQ(access.get("verify"), "ok");
  EXPECT_EQ(access.get("tls_version"), GetParam() == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
  EXPECT_EQ(access.get("bytes_from_client"), "9");
  EXPECT_TRUE(d.events("handshake_failed").empty());
}

INSTANTIATE_TEST_SUITE_P(versions, byte_by_byte, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return std::string(p.param == TLS1_3_VERSION ? "tls13" : "tls12");
                         });

// ---------------------------------------------------------------------------
// Resets.

TEST_F(abuse, client_reset_inside_the_client_hello_is_logged_at_once) {
  auto& d = start_service();
  pumped_tls_client client(good_options());
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  const std::string hello = real_client_hello(client);
  ASSERT_TRUE(send_all(client.fd(), std::string_view(hello).substr(0, hello.size() / 2)));
  const auto reset_at = clock_type::now();
  client.reset();

  const auto failed = d.wait_event("handshake_failed", {}, 5s);
  EXPECT_LT(clock_type::now() - reset_at, 3s);
  EXPECT_EQ(failed.get("reason"), "other");
  EXPECT_EQ(d.wait_event("access").get("close"), "handshake_failed");
  EXPECT_EQ(backend_.accepted(), 0u);
  expect_good_client_gets_through();
}

TEST_F(abuse, client_reset_after_the_server_flight_is_logged_at_once) {
  auto& d = start_service();
  pumped_tls_client client(good_options(TLS1_3_VERSION));
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  ASSERT_TRUE(client.send_paced(real_client_hello(client)));
  ASSERT_TRUE(client.receive_some(5s));
  const auto reset_at = clock_type::now();
  client.reset();

  const auto failed = d.wait_event("handshake_failed", {}, 5s);
  EXPECT_LT(clock_type::now() - reset_at, 3s);
  EXPECT_EQ(failed.get("reason"), "other");
  EXPECT_EQ(d.wait_event("access").get("close"), "handshake_failed");
  EXPECT_EQ(backend_.accepted(), 0u);
  expect_good_client_gets_through();
}

TEST_F(abuse, client_reset_mid_upload_closes_the_backend_side_and_is_logged_as_client_error) {
  sink_options sink;
  loopback_server sink_backend(sink_handler(sink));
  config_spec config;
  config.services.push_back(service(sink_backend.connect_url()));
  config.services.back().name = "sink";
  config.services.push_back(service(backend_.connect_url()));
  auto& d = start(config);
  leaf_ = pki().client();

  tls_client client(good_options());
  ASSERT_TRUE(client.connect(loopback, port("sink")).ok);
  payload_source upload(4 * 1024 * 1024, 21);
  ASSERT_TRUE(client.write_stream(upload).ok);
  const linger abort_on_close{1, 0};
  ::setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  client.close();  // RST, with data still in flight

  const auto access = d.wait_event("access", {{"svc", "sink"}});
  EXPECT_EQ(access.get("close"), "client_error");
  EXPECT_EQ(access.get("error"), "Connection reset by peer");
  // mtlsd closed its backend connection too instead of leaving it open.
  const auto record = sink_backend.wait_finished(1).at(0);
  EXPECT_LE(record.bytes_received, 4u * 1024 * 1024);
  expect_good_client_gets_through();
}

TEST_F(abuse, tampered_record_mid_stream_ends_the_connection_and_never_reaches_the_backend) {
  sink_options sink;
  loopback_server sink_backend(sink_handler(sink));
  config_spec config;
  config.services.push_back(service(sink_backend.connect_url()));
  auto& d = start(config);
  leaf_ = pki().client();

  pumped_tls_client client(good_options());
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  ASSERT_TRUE(client.handshake().ok);
  ASSERT_TRUE(client.write("genuine\n").ok);
  // The next record with one ciphertext bit flipped, as a man in the middle
  // would: its authentication tag no longer matches.
  std::string forged = client.produce([](SSL* s) { return SSL_write(s, "forged!\n", 8); });
  ASSERT_GT(forged.size(), 10u);
  forged[7] = static_cast<char>(forged[7] ^ 0x01);
  ASSERT_TRUE(send_all(client.fd(), forged));

  auto end = client.read_until_end();
  EXPECT_NE(end.end, read_end::timeout);
  EXPECT_NE(end.end, read_end::close_notify);
  EXPECT_EQ(client.alert_received(), "bad_record_mac");
  const auto access = d.wait_event("access");
  EXPECT_EQ(access.get("close"), "client_error");
  EXPECT_NE(access.get("error").find("bad record mac"), std::string::npos) << access.get("error");
  EXPECT_EQ(access.get("bytes_from_client"), "8");
  EXPECT_EQ(sink_backend.wait_finished(1).at(0).data, "genuine\n");
}

// ---------------------------------------------------------------------------
// TLS 1.2 renegotiation.

TEST_F(abuse, tls12_renegotiation_is_refused_and_the_connection_is_not_re_authenticated) {
  auto& d = start_service();
  pumped_tls_client client(good_options(TLS1_2_VERSION));
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  ASSERT_TRUE(client.handshake().ok);
  ASSERT_TRUE(client.write("before\n").ok);
  ASSERT_EQ(client.read_exact(7).data, "before\n");

  ASSERT_EQ(SSL_renegotiate(client.native()), 1);
  const auto renegotiated = client.handshake();
  // mtlsd answers the new ClientHello with a no_renegotiation warning
  // (SSL_OP_NO_RENEGOTIATION); OpenSSL as a client then gives up with a
  // fatal handshake_failure of its own.
  EXPECT_FALSE(renegotiated.ok);
  EXPECT_EQ(client.alert_received(), "no_renegotiation") << renegotiated.error << " / " << to_string(renegotiated.end);
  EXPECT_NE(renegotiated.error.find("no renegotiation"), std::string::npos) << renegotiated.error;

  const auto access = d.wait_event("access");
  EXPECT_EQ(access.get("close"), "client_error");
  // The client's own fatal alert, as mtlsd's read of it failed.
  EXPECT_NE(access.get("error").find("alert handshake failure"), std::string::npos) << access.get("error");
  EXPECT_EQ(access.get("bytes_from_client"), "7");
  EXPECT_EQ(access.get("verify"), "ok");
  // Exactly one handshake was judged and the connection is gone.
  EXPECT_TRUE(d.events("handshake_failed").empty());
  auto rest = client.read_until_end();
  EXPECT_NE(rest.end, read_end::none);
  EXPECT_NE(rest.end, read_end::timeout);
  expect_good_client_gets_through();
  expect_clean_stop(d);
}

// ---------------------------------------------------------------------------
// TLS 1.3 early data (0-RTT). There is no setting that enables it: mtlsd's
// contexts keep OpenSSL's max_early_data of 0, so tickets never invite it and
// early data that arrives anyway is skipped, never passed to the backend.

class early_data : public abuse {
 protected:
  // A TLS 1.3 session from a full handshake, as the server issued it.
  std::shared_ptr<SSL_SESSION> first_session() {
    tls_client first(good_options(TLS1_3_VERSION));
    if (!first.connect(loopback, port()).ok || !first.probe().admitted) return nullptr;
    // Closed cleanly: OpenSSL marks a session not resumable when its
    // connection is freed without having sent close_notify.
    first.shutdown();
    first.read_until_eof();
    return first.session();
  }

  // The same session with the client pretending the server allowed `max`
  // bytes of early data: what a replaying or non-conforming client does.
  static std::shared_ptr<SSL_SESSION> forced(const std::shared_ptr<SSL_SESSION>& session, std::uint32_t max) {
    std::shared_ptr<SSL_SESSION> copy(SSL_SESSION_dup(session.get()), SSL_SESSION_free);
    SSL_SESSION_set_max_early_data(copy.get(), max);
    return copy;
  }
};

TEST_F(early_data, tickets_do_not_offer_0rtt_and_forced_early_data_is_rejected_not_forwarded) {
  sink_options sink;
  sink.reply_after_eof = "done";
  loopback_server sink_backend(sink_handler(sink));
  config_spec config;
  config.services.push_back(service(sink_backend.connect_url()));
  auto& d = start(config);
  leaf_ = pki().client();
  tls_client first(good_options(TLS1_3_VERSION));
  ASSERT_TRUE(first.connect(loopback, port()).ok);
  ASSERT_TRUE(first.write_all("full\n").ok);
  ASSERT_TRUE(first.shutdown());
  ASSERT_EQ(first.read_until_eof().data, "done");  // tickets have arrived by now
  const auto session = first.session();
  ASSERT_TRUE(session) << "no resumable session";
  EXPECT_EQ(SSL_SESSION_get_max_early_data(session.get()), 0u) << "the ticket invites 0-RTT";

  pumped_tls_client client(good_options(TLS1_3_VERSION));
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  const auto replayable = forced(session, 16384);
  client.offer_session(replayable.get());
  const std::string early = "EARLY: transfer 100 EUR\n";
  std::size_t written = 0;
  ASSERT_TRUE(client.run([&](SSL* s) { return SSL_write_early_data(s, early.data(), early.size(), &written); }).ok);
  ASSERT_EQ(written, early.size());
  auto hs = client.handshake();
  ASSERT_TRUE(hs.ok) << hs.error;
  EXPECT_EQ(SSL_get_early_data_status(client.native()), SSL_EARLY_DATA_REJECTED);
  EXPECT_EQ(SSL_session_reused(client.native()), 1) << "the session itself should still resume";

  const std::string resent = "1-RTT: transfer 100 EUR\n";
  ASSERT_TRUE(client.write(resent).ok);
  ASSERT_TRUE(client.run([](SSL* s) { return SSL_shutdown(s) >= 0 ? 1 : -1; }).ok);
  EXPECT_EQ(client.read_until_end().data, "done");

  // The first connection's record says "full\n"; finishing order is not fixed.
  const auto records = sink_backend.wait_finished(2);
  const auto& second = records.at(0).data == "full\n" ? records.at(1) : records.at(0);
  EXPECT_EQ(second.data, resent) << "the backend got something other than the 1-RTT data";
  const auto access = d.wait_event("access", {{"conn", "2"}});
  EXPECT_EQ(access.get("bytes_from_client"), std::to_string(resent.size()));
  EXPECT_EQ(access.get("close"), "client_closed");
}

TEST_F(early_data, more_early_data_than_openssl_skips_ends_the_handshake) {
  auto& d = start_service();
  const auto session = first_session();
  ASSERT_TRUE(session);
  pumped_tls_client client(good_options(TLS1_3_VERSION));
  ASSERT_TRUE(client.connect_tcp(loopback, port()));
  const auto replayable = forced(session, 1 << 20);
  client.offer_session(replayable.get());
  // Rejected early data is skipped up to recv_max_early_data (16 KiB by
  // default); a client that keeps sending past that is cut off.
  const std::string piece(4 * 1024, 'e');
  std::uint64_t early_sent = 0;
  pumped_outcome last;
  for (int i = 0; i < 16; ++i) {
    std::size_t written = 0;
    last = client.run([&](SSL* s) { return SSL_write_early_data(s, piece.data(), piece.size(), &written); });
    if (!last.ok) break;
    early_sent += written;
  }
  // All 64 KiB went out before the server's verdict came back: it ends the
  // handshake that follows.
  if (last.ok) last = client.handshake();
  if (last.ok) last.end = client.read_until_end().end;
  EXPECT_NE(last.end, read_end::timeout) << "still open after " << early_sent << " bytes of early data";
  EXPECT_NE(last.end, read_end::close_notify);
  const auto failed = d.wait_event("handshake_failed");
  EXPECT_EQ(failed.get("reason"), "other");
  EXPECT_NE(failed.get("detail").find("too much early data"), std::string::npos) << failed.get("detail");
  EXPECT_EQ(d.wait_events("access", {}, 2).at(1).get("close"), "handshake_failed");
  // Only the first, full connection reached the backend.
  EXPECT_EQ(backend_.accepted(), 1u);
  expect_good_client_gets_through();
  expect_clean_stop(d);
}

}  // namespace
}  // namespace mtlsd::test
