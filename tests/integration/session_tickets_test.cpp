// Session resumption across instances: mtlsd processes that read the same
// session_ticket_key_file resume each other's TLS 1.3 and TLS 1.2 sessions,
// keep doing so through a key rotation, and never resume a session issued by
// another service or under a key they do not hold. Resumption is seen from
// the client (SSL_session_reused), since that is what a load-balanced client
// gains: no certificate exchange and no full handshake on a new instance.

#include <sys/stat.h>

#include <regex>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

std::string version_name(int version) { return version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"; }

// One connection's outcome: admitted through the echo backend, whether the
// offered session was resumed, and the session to offer next time.
struct visit {
  bool admitted = false;
  bool resumed = false;
  std::shared_ptr<SSL_SESSION> session;
  std::string version;
  std::string error;
};

class session_tickets : public mtlsd_test, public ::testing::WithParamInterface<int> {
 protected:
  void TearDown() override {
    if (HasFailure() || std::getenv("MTLSD_TEST_SHOW_LOG")) {
      for (const auto& [name, d] : instances_)
        std::cerr << "---- mtlsd " << name << " output ----\n" << d->output() << "---- end ----\n";
    }
    mtlsd_test::TearDown();
  }

  int version() const { return GetParam(); }

  // A key file (mode 0600, as the docs ask) holding `keys`, first = current.
  std::string write_keys(const std::string& name, const std::vector<std::string>& keys) {
    std::string text = "# session ticket keys, newest first\n";
    for (const auto& k : keys) text += k + "\n";
    write_file(dir_ / name, text);
    if (::chmod((dir_ / name).c_str(), 0600) != 0) throw harness_error("chmod " + name);
    return name;
  }

  service_spec ticket_service(const std::string& name, const std::string& key_file) {
    service_spec s = service(backend_.connect_url());
    s.name = name;
    if (!key_file.empty()) s.lines.push_back("session_ticket_key_file = " + toml_string(key_file));
    return s;
  }

  // Starts an instance named `name` with one service "svc" using `key_file`
  // (empty: no key file; sessions stay in that process).
  mtlsd_daemon& instance(const std::string& name, const std::string& key_file) {
    config_spec config;
    config.services.push_back(ticket_service("svc", key_file));
    return instance(name, config);
  }

  mtlsd_daemon& instance(const std::string& name, const config_spec& config) {
    auto d = std::make_unique<mtlsd_daemon>(mtlsd_binary, write_config(config, name + ".toml"));
    return *instances_.emplace_back(name, std::move(d)).second;
  }

  // Connects to `svc` on `d` at the test's TLS version, offering `offer`,
  // and round-trips a probe (which also collects TLS 1.3 tickets).
  visit connect(mtlsd_daemon& d, std::shared_ptr<SSL_SESSION> offer = nullptr, const std::string& svc = "svc") {
    auto options = client_options(client_identity::of(leaf_));
    options.min_version = version();
    options.max_version = version();
    tls_client client(options);
    client.offer_session(std::move(offer));
    visit v;
    const auto hs = client.connect(loopback, d.port(svc));
    if (!hs.ok) {
      v.error = "handshake: " + hs.error + " " + hs.alert_received;
      return v;
    }
    v.version = hs.version;
    v.resumed = client.session_reused();
    const auto probe = client.probe();
    v.admitted = probe.admitted;
    if (!probe.admitted) v.error = "probe: " + probe.error + " " + probe.alert_received;
    v.session = client.session();
    client.shutdown();
    return v;
  }

  // A session issued by `d`, ready to be offered elsewhere.
  std::shared_ptr<SSL_SESSION> session_from(mtlsd_daemon& d, const std::string& svc = "svc") {
    const visit v = connect(d, nullptr, svc);
    EXPECT_TRUE(v.admitted) << v.error;
    EXPECT_FALSE(v.resumed);
    EXPECT_EQ(v.version, version_name(version()));
    EXPECT_TRUE(v.session) << "no resumable session from the server";
    return v.session;
  }

  loopback_server backend_{echo_handler()};
  issued leaf_ = pki().client();
  std::vector<std::pair<std::string, std::unique_ptr<mtlsd_daemon>>> instances_;
};

TEST_P(session_tickets, instances_sharing_a_key_file_resume_each_others_sessions) {
  const std::string keys = write_keys("tickets.key", {random_ticket_key_hex(), random_ticket_key_hex()});
  auto& a = instance("a", keys);
  auto& b = instance("b", keys);

  const auto session = session_from(a);
  ASSERT_TRUE(session);
  const visit on_b = connect(b, session);
  EXPECT_TRUE(on_b.admitted) << on_b.error;
  EXPECT_TRUE(on_b.resumed) << "a session from instance a was not resumed on instance b";

  // The resumed connection carries the identity verified by instance a.
  const auto first = a.wait_event("access", {{"svc", "svc"}});
  const auto resumed = b.wait_event("access", {{"svc", "svc"}});
  EXPECT_EQ(resumed.get("verify"), "ok");
  EXPECT_EQ(resumed.get("subject"), first.get("subject"));
  EXPECT_EQ(resumed.get("sha256"), leaf_.sha256_hex());
}

TEST_P(session_tickets, without_a_key_file_sessions_resume_only_where_they_were_issued) {
  auto& a = instance("a", "");
  auto& b = instance("b", "");

  const auto session = session_from(a);
  ASSERT_TRUE(session);
  const visit again = connect(a, session);
  EXPECT_TRUE(again.admitted) << again.error;
  EXPECT_TRUE(again.resumed) << "resumption on the issuing instance is on by default";

  const visit elsewhere = connect(b, session);
  EXPECT_TRUE(elsewhere.admitted) << elsewhere.error;
  EXPECT_FALSE(elsewhere.resumed);
}

TEST_P(session_tickets, rotation_keeps_old_tickets_valid_and_moves_clients_to_the_new_key) {
  const std::string old_key = random_ticket_key_hex(), new_key = random_ticket_key_hex();
  auto& before = instance("before", write_keys("old.key", {old_key}));
  auto& during = instance("during", write_keys("rotating.key", {new_key, old_key}));
  auto& after = instance("after", write_keys("new.key", {new_key}));

  const auto old_session = session_from(before);
  ASSERT_TRUE(old_session);
  const visit rotated = connect(during, old_session);
  EXPECT_TRUE(rotated.admitted) << rotated.error;
  EXPECT_TRUE(rotated.resumed) << "a ticket under the previous key must still resume";
  ASSERT_TRUE(rotated.session);

  // The instance that no longer has the old key resumes the fresh ticket
  // issued during rotation, but not the original one.
  const visit fresh = connect(after, rotated.session);
  EXPECT_TRUE(fresh.admitted) << fresh.error;
  EXPECT_TRUE(fresh.resumed) << "the ticket issued during rotation is not under the new key";
  const visit stale = connect(after, old_session);
  EXPECT_TRUE(stale.admitted) << stale.error;
  EXPECT_FALSE(stale.resumed) << "a ticket under a dropped key was resumed";
}

TEST_P(session_tickets, an_unrelated_key_means_a_full_handshake) {
  auto& a = instance("a", write_keys("ours.key", {random_ticket_key_hex()}));
  auto& other = instance("other", write_keys("theirs.key", {random_ticket_key_hex()}));

  const auto session = session_from(a);
  ASSERT_TRUE(session);
  const visit v = connect(other, session);
  EXPECT_TRUE(v.admitted) << v.error;
  EXPECT_FALSE(v.resumed);
  const auto access = other.wait_event("access", {{"svc", "svc"}});
  EXPECT_EQ(access.get("verify"), "ok");
  EXPECT_EQ(access.get("sha256"), leaf_.sha256_hex());
}

TEST_P(session_tickets, services_sharing_a_key_file_do_not_resume_each_others_sessions) {
  const std::string keys = write_keys("tickets.key", {random_ticket_key_hex()});
  config_spec config;
  config.services.push_back(ticket_service("lenient", keys));
  config.services.push_back(ticket_service("strict", keys));
  config.services.back().allow = {"cn = [\"client\"]"};
  auto& d = instance("two", config);

  const auto session = session_from(d, "lenient");
  ASSERT_TRUE(session);
  const visit same = connect(d, session, "lenient");
  EXPECT_TRUE(same.admitted) << same.error;
  EXPECT_TRUE(same.resumed) << "control: the session resumes on the service that issued it";

  const visit other = connect(d, session, "strict");
  EXPECT_TRUE(other.admitted) << other.error;
  EXPECT_FALSE(other.resumed) << "a session from service lenient was resumed on service strict";
}

TEST_P(session_tickets, a_changed_whitelist_or_truststore_means_a_full_handshake) {
  // Same name, same key file: only the client policy differs. A session
  // admitted under one policy must not skip the check under another.
  const std::string keys = write_keys("tickets.key", {random_ticket_key_hex()});
  auto policy = [&](const std::string& name, std::vector<std::string> allow, const std::string& truststore) {
    config_spec config;
    service_spec s = ticket_service("svc", keys);
    s.allow = std::move(allow);
    if (!truststore.empty()) s.truststore = truststore;
    config.services.push_back(s);
    return &instance(name, config);
  };
  const std::string pin = "sha256 = [" + toml_string(leaf_.sha256_hex()) + "]";
  auto* pinned = policy("pinned", {pin}, "");
  auto* same = policy("same", {pin}, "");
  auto* widened = policy("widened", {pin, "cn = [\"someone-else\"]"}, "");
  // The client CA plus one more: still admits the client, but a different truststore.
  cert_spec ca;
  ca.is_ca = true;
  ca.cn = {"another client CA"};
  write_file(dir_ / "two-cas.crt", pki().client_ca.cert_pem() + make_self_signed(ca).cert_pem());
  auto* more_cas = policy("more-cas", {pin}, "two-cas.crt");

  const auto session = session_from(*pinned);
  ASSERT_TRUE(session);
  const visit on_same = connect(*same, session);
  EXPECT_TRUE(on_same.admitted) << on_same.error;
  EXPECT_TRUE(on_same.resumed) << "an identical policy should resume";
  for (auto* other : {widened, more_cas}) {
    const visit v = connect(*other, session);
    EXPECT_TRUE(v.admitted) << v.error;
    EXPECT_FALSE(v.resumed) << "a session made under another client policy was resumed";
  }
}

TEST_P(session_tickets, a_client_using_each_ticket_once_keeps_resuming) {
  // RFC 8446 asks TLS 1.3 clients not to reuse a ticket, so each resumption
  // must bring a fresh one — with shared keys and with per-process sessions.
  const std::string keys = write_keys("tickets.key", {random_ticket_key_hex()});
  for (const std::string& key_file : {keys, std::string()}) {
    auto& d = instance(key_file.empty() ? "in-memory" : "shared-keys", key_file);
    std::shared_ptr<SSL_SESSION> ticket = session_from(d);
    for (int hop = 0; hop < 3; ++hop) {
      const visit v = connect(d, ticket);
      EXPECT_TRUE(v.admitted) << v.error;
      EXPECT_TRUE(v.resumed) << "hop " << hop << (key_file.empty() ? " (in-memory)" : " (shared keys)");
      ASSERT_TRUE(v.session);
      if (version() == TLS1_3_VERSION) {
        EXPECT_NE(v.session.get(), ticket.get()) << "no fresh ticket";
      }
      ticket = v.session;
    }
  }
}

TEST_P(session_tickets, a_changed_spiffe_rule_or_eku_requirement_means_a_full_handshake) {
  cert_spec svid;
  svid.o = {"SPIRE"};
  svid.uri = {"spiffe://example.org/ns/prod/sa/api"};
  leaf_ = pki().client(svid);
  const std::string keys = write_keys("tickets.key", {random_ticket_key_hex()});
  auto policy = [&](const std::string& name, std::vector<std::string> allow, std::vector<std::string> lines) {
    config_spec config;
    service_spec s = ticket_service("svc", keys);
    s.allow = std::move(allow);
    for (auto& line : lines) s.lines.push_back(std::move(line));
    config.services.push_back(s);
    return &instance(name, config);
  };
  const std::string domain = R"(spiffe_trust_domain = ["example.org"])";
  auto* base = policy("base", {domain}, {});
  auto* same = policy("same", {domain}, {});
  auto* more_ids = policy("more-ids", {domain, R"(spiffe_id = ["spiffe://other.org/ns/x"])"}, {});
  auto* relaxed_eku = policy("relaxed-eku", {domain}, {"require_client_auth_eku = false"});

  const auto session = session_from(*base);
  ASSERT_TRUE(session);
  const visit on_same = connect(*same, session);
  EXPECT_TRUE(on_same.admitted) << on_same.error;
  EXPECT_TRUE(on_same.resumed) << "an identical policy should resume";
  for (auto* other : {more_ids, relaxed_eku}) {
    const visit v = connect(*other, session);
    EXPECT_TRUE(v.admitted) << v.error;
    EXPECT_FALSE(v.resumed) << "a session made under another client policy was resumed";
  }
}

INSTANTIATE_TEST_SUITE_P(versions, session_tickets, ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return param_info.param == TLS1_3_VERSION ? "tls13" : "tls12";
                         });

class session_ticket_config : public mtlsd_test {};

TEST_F(session_ticket_config, check_summarises_keys_generated_by_openssl_rand) {
  if (!have_program("openssl")) GTEST_SKIP() << "openssl is not installed";
  std::string keys;
  for (int i = 0; i < 2; ++i) {
    const auto r = run_command({"openssl", "rand", "-hex", "80"}, 10s, {}, in_path());
    ASSERT_EQ(r.status, 0) << r.err;
    keys += r.out;
  }
  write_file(dir_ / "tickets.key", keys);
  ::chmod((dir_ / "tickets.key").c_str(), 0600);

  config_spec config;
  config.services.push_back(service("tcp://127.0.0.1:1"));
  config.services.back().name = "shared";
  config.services.back().lines = {R"(session_ticket_key_file = "tickets.key")"};
  config.services.push_back(service("tcp://127.0.0.1:1"));
  config.services.back().name = "own";
  const auto r = run_command({mtlsd_binary, "check", "--config", write_config(config).string()}, 10s);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("  session tickets 2 keys from " + (dir_ / "tickets.key").string() + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  session tickets in memory, up to 5000 sessions (resume on this process only)\n"), std::string::npos) << r.out;
  // check prints each warning as "warning: ..." on a line of its own.
  EXPECT_EQ(r.out.find("\nwarning: "), std::string::npos) << r.out;
}

TEST_F(session_ticket_config, a_bad_key_line_stops_startup_with_the_line_named) {
  write_file(dir_ / "tickets.key", random_ticket_key_hex() + "\n" + random_ticket_key_hex().substr(2) + "\n");
  ::chmod((dir_ / "tickets.key").c_str(), 0600);
  config_spec config;
  config.services.push_back(service("tcp://127.0.0.1:1", "require", {R"(session_ticket_key_file = "tickets.key")"}));
  const auto r = run_command({mtlsd_binary, "run", "--config", write_config(config).string()}, 10s);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex(R"(mtlsd\.toml:[0-9]+:27: service\[svc\]\.session_ticket_key_file: .*tickets\.key line 2: )"
                        R"(expected 160 hex characters \(80 bytes\), found 158 characters)")))
      << r.err;
  EXPECT_NE(r.err.find("nothing started"), std::string::npos) << r.err;
}

TEST_F(session_ticket_config, a_key_file_others_can_read_stops_startup_unless_allowed) {
  write_file(dir_ / "tickets.key", random_ticket_key_hex() + "\n");
  ::chmod((dir_ / "tickets.key").c_str(), 0644);
  loopback_server backend(echo_handler());
  config_spec config;
  config.services.push_back(service(backend.connect_url(), "require", {R"(session_ticket_key_file = "tickets.key")"}));
  const auto refused = run_command({mtlsd_binary, "run", "--config", write_config(config).string()}, 10s);
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(std::regex_search(refused.err,
                                std::regex(R"(mtlsd\.toml:[0-9]+:27: service\[svc\]\.session_ticket_key_file: )"
                                           R"(session_ticket_key_file .*tickets\.key: mode 0644 lets others read it; )"
                                           R"(.*chmod 600 .*tickets\.key \(or set allow_insecure_key_permissions = true\))")))
      << refused.err;
  EXPECT_EQ(refused.err.find(" ready "), std::string::npos) << refused.err;

  config.services.back().lines.push_back("allow_insecure_key_permissions = true");
  auto& d = start(config);
  const auto warning = d.wait_event("config_warning");
  EXPECT_NE(warning.get("message").find("service svc: session_ticket_key_file " + (dir_ / "tickets.key").string() +
                                        ": mode 0644 lets others read it (allowed by allow_insecure_key_permissions)"),
            std::string::npos)
      << warning.get("message");
  EXPECT_TRUE(connect_and_probe(client_identity::of(pki().client())).admitted);
}

}  // namespace
}  // namespace mtlsd::test
