// `mtlsd verify` against the real daemon: for every kind of refusal, the
// offline verdict for a chain must be what a running mtlsd with the same
// config decides when a client presents that chain — same accept/refuse,
// same reason word, same detail text as its handshake_failed line.

#include <chrono>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct case_spec {
  std::string name;
  std::string service;
  const issued* leaf = nullptr;
  std::vector<const issued*> chain;
};

struct verdict_seen {
  bool accepted = false;
  std::string reason, detail;
};

class verify_command : public mtlsd_test {
 protected:
  run_result mtlsd(std::vector<std::string> args) {
    args.insert(args.begin(), mtlsd_binary);
    return run_command(std::move(args), 20s);
  }

  static cert_spec leaf_spec(const std::string& cn = "partner-a") {
    cert_spec spec;
    spec.cn = {cn};
    return spec;
  }

  static cert_spec ca_spec(const std::string& cn) {
    cert_spec spec;
    spec.is_ca = true;
    spec.cn = {cn};
    return spec;
  }

  fs::path write_chain(const std::string& name, const issued& leaf, const std::vector<const issued*>& chain) {
    std::string pem = leaf.cert_pem();
    for (const auto* c : chain) pem += c->cert_pem();
    const auto path = dir_ / (name + ".chain.pem");
    write_file(path, pem);
    return path;
  }

  // The verdict line of `mtlsd verify` (the last line of its output).
  verdict_seen offline(const fs::path& config, const case_spec& c) {
    const auto r = mtlsd({"verify", "--config", config.string(), "--service", c.service,
                          write_chain(c.name, *c.leaf, c.chain).string()});
    EXPECT_TRUE(r.status == 0 || r.status == 1) << c.name << ": " << r.out << r.err;
    std::string last = r.out;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    last = last.substr(last.rfind('\n') + 1);
    verdict_seen v;
    v.accepted = r.status == 0;
    EXPECT_EQ(v.accepted, last.starts_with("ACCEPT")) << c.name << ": " << r.out;
    if (!v.accepted) {
      // The verdict line quotes its fields as a log line does.
      const auto parsed = parse_log_line("0 warn " + last);
      EXPECT_TRUE(parsed.has_value()) << last;
      if (parsed) {
        v.reason = parsed->get("reason");
        v.detail = parsed->get("detail");
      }
    }
    return v;
  }

  verdict_seen online(const case_spec& c, std::size_t& refusals) {
    auto options = client_options(client_identity::of(*c.leaf, c.chain));
    options.max_version = TLS1_2_VERSION;  // the server's verdict ends the handshake itself
    options.security_level = 0;            // so that weak keys can be presented
    tls_client client(options);
    verdict_seen v;
    v.accepted = client.connect(loopback, port(c.service)).ok;
    if (!v.accepted) {
      const auto lines = daemon().wait_events("handshake_failed", {}, ++refusals);
      v.reason = lines.back().get("reason");
      v.detail = lines.back().get("detail");
    }
    return v;
  }
};

TEST_F(verify_command, agrees_with_the_daemon_on_every_kind_of_refusal) {
  auto& p = pki();
  // Chains under the plain service.
  const issued valid = p.client(leaf_spec());
  cert_spec expired_spec = leaf_spec();
  expired_spec.not_before = -48h;
  expired_spec.not_after = -1h;
  const issued expired = p.client(expired_spec);
  cert_spec future_spec = leaf_spec();
  future_spec.not_before = 2h;
  const issued future = p.client(future_spec);
  const issued other_ca = make_self_signed(ca_spec("Other CA"));
  const issued unknown = issue(leaf_spec(), other_ca);
  const issued int1 = issue(ca_spec("Intermediate 1"), p.client_ca);
  const issued int2 = issue(ca_spec("Intermediate 2"), int1);
  const issued deep = issue(leaf_spec(), int2);
  cert_spec server_eku = leaf_spec();
  server_eku.eku = eku_kind::server_auth;
  const issued bad_eku = p.client(server_eku);
  cert_spec no_eku_spec = leaf_spec();
  no_eku_spec.eku = eku_kind::none;
  const issued no_eku = p.client(no_eku_spec);
  cert_spec weak_spec = leaf_spec();
  weak_spec.key = key_kind::rsa1024;
  const issued weak = p.client(weak_spec);
  cert_spec constrained_spec = ca_spec("Constrained CA");
  constrained_spec.permitted_names = {"dns:.partner.example"};
  const issued constrained = issue(constrained_spec, p.client_ca);
  cert_spec outside_spec = leaf_spec();
  outside_spec.dns = {"evil.example"};
  const issued outside = issue(outside_spec, constrained);
  const issued stranger = p.client(leaf_spec("stranger"));
  cert_spec svid_spec;
  svid_spec.uri = {"spiffe://example.org/a", "spiffe://example.org/b"};
  const issued two_uris = p.client(svid_spec);

  // Chains under the CRL services: the root's CRL revokes one intermediate,
  // each intermediate's CRL is there except for `unlisted`.
  const issued good_int = issue(ca_spec("Good Intermediate"), p.client_ca);
  const issued revoked_int = issue(ca_spec("Revoked Intermediate"), p.client_ca);
  const issued unlisted = issue(ca_spec("Intermediate Without CRL"), p.client_ca);
  const issued fine = issue(leaf_spec(), good_int);
  const issued revoked_leaf = issue(leaf_spec(), good_int);
  const issued under_revoked = issue(leaf_spec(), revoked_int);
  const issued unknown_status = issue(leaf_spec(), unlisted);
  const auto revoking = [](const issued& cert) {
    crl_spec spec;
    spec.revoked = {{&cert, -1h, 1}};
    return spec;
  };
  write_file(dir_ / "root.crl", make_crl(revoking(revoked_int), p.client_ca).pem() +
                                    make_crl(revoking(revoked_leaf), good_int).pem() +
                                    make_crl({}, revoked_int).pem());
  crl_spec stale;
  stale.this_update = -48h;
  stale.next_update = -2h;
  write_file(dir_ / "stale.crl", make_crl(stale, p.client_ca).pem());

  const auto svc = [&](const std::string& name, std::vector<std::string> lines, std::vector<std::string> allow) {
    service_spec s = service("tcp://127.0.0.1:9");
    s.name = name;
    s.lines = std::move(lines);
    s.allow = std::move(allow);
    return s;
  };
  config_spec config;
  config.services = {
      svc("plain", {"verify_depth = 1"}, {R"(cn = ["partner-a"])"}),
      svc("spiffe", {}, {R"(spiffe_trust_domain = ["example.org"])"}),
      svc("crl", {R"(crl = ["root.crl"])"}, {}),
      svc("stale", {R"(crl = ["stale.crl"])", R"(crl_stale = "reject")"}, {}),
  };
  const auto config_file = write_config(config);
  start(config);

  const std::vector<case_spec> cases = {
      {"valid", "plain", &valid, {}},
      {"expired", "plain", &expired, {}},
      {"not_yet_valid", "plain", &future, {}},
      {"unknown_ca", "plain", &unknown, {&other_ca}},
      {"depth_exceeded", "plain", &deep, {&int2, &int1}},
      {"bad_eku", "plain", &bad_eku, {}},
      {"missing_eku", "plain", &no_eku, {}},
      {"weak_key", "plain", &weak, {}},
      {"name_constraints", "plain", &outside, {&constrained}},
      {"not_whitelisted", "plain", &stranger, {}},
      {"invalid_svid", "spiffe", &two_uris, {}},
      {"crl_valid", "crl", &fine, {&good_int}},
      {"revoked_leaf", "crl", &revoked_leaf, {&good_int}},
      {"revoked_intermediate", "crl", &under_revoked, {&revoked_int}},
      {"revocation_unknown", "crl", &unknown_status, {&unlisted}},
      {"crl_stale", "stale", &valid, {}},
  };
  const std::map<std::string, std::string> expected_reason = {
      {"valid", ""},
      {"expired", "expired"},
      {"not_yet_valid", "not_yet_valid"},
      {"unknown_ca", "unknown_ca"},
      {"depth_exceeded", "depth_exceeded"},
      {"bad_eku", "bad_eku"},
      {"missing_eku", "bad_eku"},
      {"weak_key", "weak_key"},
      {"name_constraints", "name_constraints"},
      {"not_whitelisted", "not_whitelisted"},
      {"invalid_svid", "invalid_svid"},
      {"crl_valid", ""},
      {"revoked_leaf", "revoked"},
      {"revoked_intermediate", "revoked"},
      {"revocation_unknown", "revocation_unknown"},
      {"crl_stale", "crl_stale"},
  };
  std::size_t refusals = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const verdict_seen off = offline(config_file, c);
    const verdict_seen on = online(c, refusals);
    EXPECT_EQ(off.accepted, on.accepted);
    EXPECT_EQ(off.reason, on.reason);
    EXPECT_EQ(off.detail, on.detail);
    // And the corpus covers what it claims to.
    EXPECT_EQ(on.reason, expected_reason.at(c.name)) << on.detail;
  }
}

TEST_F(verify_command, at_judges_validity_at_another_time_and_json_is_one_object) {
  auto& p = pki();
  const issued leaf = p.client(leaf_spec());  // valid from an hour ago for a day
  const auto chain = write_chain("leaf", leaf, {});
  const auto ca = p.client_ca_file().string();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();

  EXPECT_EQ(mtlsd({"verify", "--truststore", ca, chain.string()}).status, 0);
  const auto later = mtlsd({"verify", "--truststore", ca, "--at", "@" + std::to_string(now + 3 * 86400),
                            chain.string()});
  EXPECT_EQ(later.status, 1) << later.out;
  EXPECT_NE(later.out.find("REJECT reason=expired"), std::string::npos) << later.out;
  EXPECT_NE(later.out.find("FAIL  validity: CN=partner-a not_after="), std::string::npos) << later.out;
  const auto earlier = mtlsd({"verify", "--truststore", ca, "--at", "2001-01-01T00:00:00Z", chain.string()});
  EXPECT_EQ(earlier.status, 1) << earlier.out;
  EXPECT_NE(earlier.out.find("REJECT reason=not_yet_valid"), std::string::npos) << earlier.out;

  const auto json = mtlsd({"verify", "--json", "--truststore", ca, "--allow-cn", "partner-a", chain.string()});
  EXPECT_EQ(json.status, 0) << json.err;
  if (have_program("python3")) {
    // A real JSON parser, as the tools reading this output would use.
    const auto parsed = run_command(
        {"python3", "-c",
         "import json,sys; o=json.load(sys.stdin); "
         "print(o['verdict'], o['detail'], len(o['checks']), all('status' in c and 'check' in c for c in o['checks']))"},
        10s, json.out, in_path());
    EXPECT_EQ(parsed.status, 0) << parsed.err << json.out;
    EXPECT_EQ(parsed.out.substr(0, parsed.out.find(' ')), "ACCEPT") << parsed.out;
    EXPECT_NE(parsed.out.find("cn=\"partner-a\""), std::string::npos) << parsed.out;
    EXPECT_NE(parsed.out.find(" True"), std::string::npos) << parsed.out;
  } else {
    EXPECT_TRUE(json.out.starts_with("{\"verdict\":\"ACCEPT\"")) << json.out;
  }
}

TEST_F(verify_command, usage_and_config_errors_exit_2) {
  const auto chain = write_chain("leaf", pki().client(leaf_spec()), {});
  EXPECT_EQ(mtlsd({"verify", chain.string()}).status, 2);
  EXPECT_EQ(mtlsd({"verify", "--truststore", pki().client_ca_file().string(), "--at", "yesterday", chain.string()})
                .status,
            2);
  write_file(dir_ / "bad.toml", "[server]\nlog_level = \"loud\"\n");
  const auto bad = mtlsd({"verify", "--config", (dir_ / "bad.toml").string(), "--service", "x", chain.string()});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("bad.toml:2:"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("server.log_level"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace mtlsd::test
