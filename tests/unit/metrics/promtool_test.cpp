// The rendered text must be what Prometheus itself accepts: promtool parses it
// with the same parser a scrape uses and lints names, types and HELP text.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "metrics_test_support.hpp"
#include "mtlsd/metrics/exposition.hpp"
#include "process.hpp"

namespace mtlsd::metrics {
namespace {

using namespace std::chrono_literals;

void expect_promtool_accepts(const std::string& text, const std::string& what) {
  if (!test::have_program("promtool")) {
    FAIL() << "promtool not found in PATH; it validates /metrics output. Install Debian's `prometheus` "
              "package (scripts/install-deps does).";
  }
  // Kept on disk when the check fails, so the offending output can be read.
  const auto file = std::filesystem::temp_directory_path() /
                    ("mtlsd-metrics-" + std::to_string(::getpid()) + "-" + what + ".prom");
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good()) << file;
  }
  std::ifstream in(file, std::ios::binary);
  const std::string from_file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  test::process_options options;
  options.search_path = true;
  const auto result = test::run_command({"promtool", "check", "metrics"}, 30s, from_file, options);
  EXPECT_EQ(result.status, 0) << "promtool check metrics < " << file << "\nstdout:\n" << result.out
                              << "\nstderr:\n" << result.err;
  EXPECT_EQ(result.out, "") << file;
  EXPECT_EQ(result.err, "") << file;
  if (result.status == 0 && result.out.empty() && result.err.empty()) std::filesystem::remove(file);
}

TEST(promtool, accepts_a_populated_registry_with_hostile_labels) {
  registry r;
  test::populate(r);
  expect_promtool_accepts(render(r, test::sample_certificates(), test::sample_build), "populated");
}

TEST(promtool, accepts_an_empty_registry) {
  const registry r;
  expect_promtool_accepts(render(r, {}, {"", ""}), "empty");
}

}  // namespace
}  // namespace mtlsd::metrics
