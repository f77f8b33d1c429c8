// OCSP for client certificates against a real `openssl ocsp` responder on
// loopback: good, revoked and unknown answers and an unreachable responder,
// in soft and hard mode; answers cached until their nextUpdate; and the
// worker keeps serving other clients while a handshake waits for a slow
// responder (the handshake is paused, not the event loop).

#include <openssl/bn.h>

#include <atomic>
#include <thread>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;

std::string serial_hex(const issued& cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert.cert.get()), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string text = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  if (text.size() % 2) text.insert(0, "0");
  return text;
}

class ocsp : public mtlsd_test {
 protected:
  void SetUp() override {
    good_ = pki().client(named_spec("good-client"));
    revoked_ = pki().client(named_spec("revoked-client"));
    unknown_ = pki().client(named_spec("unknown-client"));
    good_id_ = pki().write_client("good", good_);
    revoked_id_ = pki().write_client("revoked", revoked_);
    unknown_id_ = pki().write_client("unknown", unknown_);
    write_file(dir_ / "client-ca.key", pki().client_ca.key_pem());
    write_file(dir_ / "client-ca.crt", pki().client_ca.cert_pem());
    // The responder's database, in `openssl ca` index format: V(alid) or
    // R(evoked) with the revocation time; a serial not listed is "unknown".
    write_file(dir_ / "index.txt", "V\t351231235959Z\t\t" + serial_hex(good_) + "\tunknown\t/CN=good-client\n" +
                                       "R\t351231235959Z\t240101000000Z,keyCompromise\t" + serial_hex(revoked_) +
                                       "\tunknown\t/CN=revoked-client\n");
  }

  static cert_spec named_spec(const std::string& cn) {
    cert_spec s;
    s.cn = {cn};
    return s;
  }

  // Starts `openssl ocsp` on an ephemeral port, signing with `signer` (the
  // client CA itself unless given); returns its URL.
  std::string start_responder(const std::string& signer = "client-ca") {
    responder_ = std::make_unique<process>(
        std::vector<std::string>{"openssl", "ocsp", "-index", (dir_ / "index.txt").string(), "-port", "0",
                                 "-rsigner", (dir_ / (signer + ".crt")).string(), "-rkey",
                                 (dir_ / (signer + ".key")).string(), "-CA", pki().client_ca_file().string(),
                                 "-nmin", "10", "-ignore_err"},
        in_path());
    const std::string line = responder_->wait_for_line(rx("^ACCEPT "), 10s);
    const auto colon = line.rfind(':');
    const auto space = line.find(' ', colon);
    return "http://127.0.0.1:" + line.substr(colon + 1, space - colon - 1) + "/";
  }

  mtlsd_daemon& start_with(const std::string& mode, const std::string& url, std::vector<std::string> extra = {}) {
    config_spec config;
    config.server_lines.push_back("workers = 1");
    auto s = service(backend_.connect_url(), "require", {"ocsp = \"" + mode + "\"", "ocsp_url = \"" + url + "\"",
                                                         R"(ocsp_timeout = "2s")"});
    for (auto& line : extra) s.lines.push_back(line);
    config.services.push_back(s);
    auto plain = service(backend_.connect_url(), "require");
    plain.name = "no-ocsp";
    config.services.push_back(plain);
    return start(config);
  }

  issued good_, revoked_, unknown_;
  client_identity good_id_, revoked_id_, unknown_id_;
  loopback_server backend_{echo_handler()};
  std::unique_ptr<process> responder_;
};

class ocsp_modes : public ocsp, public ::testing::WithParamInterface<std::string> {};

TEST_P(ocsp_modes, answers_decide_as_the_mode_says) {
  if (!have_program("openssl")) GTEST_SKIP() << "openssl is not installed";
  const std::string mode = GetParam();
  const bool hard = mode == "hard";
  start_with(mode, start_responder());

  EXPECT_TRUE(connect_and_probe(good_id_).admitted) << "good";

  const auto revoked = connect_and_probe(revoked_id_);
  EXPECT_FALSE(revoked.admitted);
  EXPECT_EQ(revoked.alert_received, "certificate_revoked") << revoked.error;
  const auto line = daemon().wait_event("handshake_failed", {{"reason", "revoked"}});
  EXPECT_NE(line.get("detail").find("subject=\"CN=revoked-client\""), std::string::npos) << line.get("detail");
  EXPECT_NE(line.get("detail").find(": revoked at 2024-01-01T00:00:00Z, reason keyCompromise (OCSP, thisUpdate "),
            std::string::npos)
      << line.get("detail");

  const auto unknown = connect_and_probe(unknown_id_);
  EXPECT_EQ(unknown.admitted, !hard) << unknown.error;
  if (hard) {
    const auto refused = daemon().wait_event("handshake_failed", {{"reason", "revocation_unknown"}});
    EXPECT_NE(refused.get("detail").find("the OCSP responder does not know this certificate"), std::string::npos)
        << refused.get("detail");
  } else {
    const auto soft = daemon().wait_event("ocsp_soft_fail", {{"svc", "svc"}});
    EXPECT_NE(soft.get("error").find("does not know this certificate"), std::string::npos) << soft.get("error");
  }
}

TEST_P(ocsp_modes, an_unreachable_responder_admits_only_in_soft_mode) {
  const std::string mode = GetParam();
  start_with(mode, "http://127.0.0.1:" + std::to_string(closed_port()) + "/");
  const auto r = connect_and_probe(good_id_);
  EXPECT_EQ(r.admitted, mode == "soft") << r.error;
  if (mode == "hard") {
    const auto refused = daemon().wait_event("handshake_failed", {{"reason", "revocation_unknown"}});
    EXPECT_NE(refused.get("detail").find("no answer from the OCSP responder http://127.0.0.1:"), std::string::npos)
        << refused.get("detail");
    EXPECT_NE(refused.get("detail").find("(ocsp = hard)"), std::string::npos);
  } else {
    daemon().wait_event("ocsp_soft_fail", {{"svc", "svc"}});
  }
}

INSTANTIATE_TEST_SUITE_P(modes, ocsp_modes, ::testing::Values("soft", "hard"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_F(ocsp, a_delegated_responder_needs_the_ocsp_signing_eku_from_the_issuer) {
  if (!have_program("openssl")) GTEST_SKIP() << "openssl is not installed";
  cert_spec delegated;
  delegated.cn = {"OCSP responder"};
  delegated.eku = eku_kind::ocsp_signing;
  const issued responder = issue(delegated, pki().client_ca);
  write_file(dir_ / "delegated.crt", responder.cert_pem());
  write_file(dir_ / "delegated.key", responder.key_pem());
  cert_spec pretender = delegated;
  pretender.cn = {"Not an OCSP responder"};
  pretender.eku = eku_kind::client_auth;
  const issued impostor = issue(pretender, pki().client_ca);
  write_file(dir_ / "impostor.crt", impostor.cert_pem());
  write_file(dir_ / "impostor.key", impostor.key_pem());

  start_with("hard", start_responder("delegated"));
  EXPECT_TRUE(connect_and_probe(good_id_).admitted) << "a delegated responder's answer counts";
  daemon_.reset();

  // Issued by the same CA, but not authorised to answer for it.
  start_with("hard", start_responder("impostor"));
  EXPECT_FALSE(connect_and_probe(good_id_).admitted);
  const auto refused = daemon().wait_event("handshake_failed", {{"reason", "revocation_unknown"}});
  EXPECT_NE(refused.get("detail").find("signature or its responder's authority does not verify"), std::string::npos)
      << refused.get("detail");
}

TEST_F(ocsp, a_good_answer_is_cached_until_its_next_update) {
  if (!have_program("openssl")) GTEST_SKIP() << "openssl is not installed";
  start_with("hard", start_responder());
  EXPECT_TRUE(connect_and_probe(good_id_).admitted);
  // The responder goes away; its answer (nextUpdate in 10 minutes) still holds.
  responder_.reset();
  EXPECT_TRUE(connect_and_probe(good_id_).admitted);
  EXPECT_TRUE(daemon().events("handshake_failed").empty());
}

TEST_F(ocsp, the_worker_serves_others_while_a_handshake_waits_for_the_responder) {
  // A responder that accepts and never answers: the OCSP handshake waits
  // ocsp_timeout (2 s) on the only worker.
  std::atomic<bool> asked{false};
  loopback_server silent([&](backend_connection& c) {
    asked = true;
    c.receive_to_end();
  });
  start_with("soft", "http://" + silent.address() + "/");

  std::atomic<bool> waiting_done{false};
  probe_result waiting_result;
  std::thread waiting([&] {
    waiting_result = connect_and_probe(good_id_);
    waiting_done = true;
  });
  ASSERT_TRUE(silent.wait_accepted(1, 10s)) << "the responder was never asked";
  // Meanwhile, on the same worker, clients of the other service get through.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(connect_and_probe(good_id_, "no-ocsp").admitted);
    EXPECT_FALSE(waiting_done.load()) << "the paused handshake finished before the others: not paused?";
  }
  waiting.join();
  EXPECT_TRUE(waiting_result.admitted) << waiting_result.error;  // soft: admitted without an answer
  const auto soft = daemon().wait_event("ocsp_soft_fail");
  EXPECT_NE(soft.get("error").find("no answer within the time limit"), std::string::npos) << soft.get("error");
}

}  // namespace
}  // namespace mtlsd::test
