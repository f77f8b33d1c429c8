// [server] workers: several event-loop threads serve one port together
// (the kernel spreads connections over their SO_REUSEPORT sockets).

#include <filesystem>
#include <future>
#include <vector>

#include "integration.hpp"

namespace mtlsd::test {
namespace {

std::size_t thread_count(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    ++n;
  return n;
}

TEST_F(mtlsd_test, three_workers_serve_one_port_together) {
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines.push_back("workers = 3");
  config.services.push_back(service(backend.connect_url()));
  auto& d = start(config);

  EXPECT_EQ(d.wait_event("ready").get("workers"), "3");
  // The main thread (signals) plus one thread per worker.
  EXPECT_GE(thread_count(d.proc().pid()), 4u);

  const issued leaf = pki().client();
  const client_identity identity = client_identity::of(leaf);
  constexpr int clients = 24;
  std::vector<std::future<probe_result>> results;
  for (int i = 0; i < clients; ++i)
    results.push_back(std::async(std::launch::async, [&] { return connect_and_probe(identity); }));
  for (auto& r : results) {
    const auto result = r.get();
    EXPECT_TRUE(result.admitted) << result.error << " " << result.alert_received;
  }
  EXPECT_EQ(d.wait_events("access", {{"close", "client_closed"}}, clients).size(), static_cast<std::size_t>(clients));
}

TEST_F(mtlsd_test, one_worker_owns_its_port_exclusively) {
  // Without SO_REUSEPORT a second daemon on the same address must fail to
  // start instead of silently taking half the connections.
  loopback_server backend(echo_handler());
  config_spec config;
  config.server_lines.push_back("workers = 1");
  config.services.push_back(service(backend.connect_url()));
  auto& first = start(config);
  const auto taken = std::to_string(first.port("svc"));

  config_spec second = config;
  second.services[0].accept = "tls://127.0.0.1:" + taken;
  const auto path = write_config(second, "second.toml");
  auto r = run_command({mtlsd_binary, "run", "--config", path.string()}, 10s);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("startup_failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Address already in use"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mtlsd::test
