// The PID file: `mtlsd reload --pid-file` and init scripts signal whatever
// PID it names, so it must never be half written, never name a stranger after
// we exit, and never be removed from under another instance.

#include "mtlsd/platform/pid_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform_test_support.hpp"

namespace mtlsd::platform {
namespace {

namespace fs = std::filesystem;

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The message of the std::runtime_error read_pid_file() throws ("" when none).
std::string read_error(const fs::path& path) {
  try {
    read_pid_file(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(pid_file, holds_our_pid_and_goes_away_with_us) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "mtlsd.pid";
  {
    const pid_file file(path);
    EXPECT_EQ(contents(path), std::to_string(::getpid()) + "\n");
    EXPECT_EQ(read_pid_file(path), ::getpid());
    // The temporary was renamed into place, not left behind.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(pid_file, replaces_a_stale_file) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "mtlsd.pid";
  write(path, "999999\nleftover text from a much longer file\n");
  const pid_file file(path);
  EXPECT_EQ(contents(path), std::to_string(::getpid()) + "\n");
}

TEST(pid_file, left_alone_when_another_instance_took_it_over) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "mtlsd.pid";
  {
    const pid_file file(path);
    write(path, "1\n");
  }
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(read_pid_file(path), 1);
}

TEST(pid_file, moved_from_object_does_not_remove_it) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "mtlsd.pid";
  pid_file target;
  {
    pid_file source(path);
    target = std::move(source);
  }
  EXPECT_TRUE(fs::exists(path));
  target = pid_file();
  EXPECT_FALSE(fs::exists(path));
}

TEST(pid_file, unwritable_location_is_an_error_naming_the_path) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "missing-dir" / "mtlsd.pid";
  try {
    pid_file file(path);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(read_pid_file, accepts_a_number_with_or_without_newline) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "pid";
  write(path, "4242\n");
  EXPECT_EQ(read_pid_file(path), 4242);
  write(path, "17");
  EXPECT_EQ(read_pid_file(path), 17);
}

TEST(read_pid_file, garbage_is_an_error_naming_the_path) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "pid";
  const std::vector<std::string> texts{"",      "\n",     "abc\n",  "12abc\n", "0\n",
                                      "-5\n",   " 12\n",  "1 2\n",  "99999999999999999999\n",
                                      std::string(100, '1')};
  for (const auto& text : texts) {
    write(path, text);
    const std::string error = read_error(path);
    EXPECT_NE(error.find(path.string()), std::string::npos) << "content \"" << text << "\": " << error;
  }
}

TEST(read_pid_file, missing_file_is_an_error_naming_the_path) {
  test::temp_dir dir;
  const fs::path path = dir.path() / "absent.pid";
  const std::string error = read_error(path);
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
}

}  // namespace
}  // namespace mtlsd::platform
