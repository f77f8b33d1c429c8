// Session-ticket key files: what a valid file yields (the first key encrypts,
// every key is found by name), every malformed line reported with its line
// number and without echoing key material, the permission warning, and how
// server_context::build() reports all of it against the config key.

#include "mtlsd/tls/ticket_keys.hpp"

#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cctype>
#include <stdexcept>
#include <string>
#include <vector>

#include "mtlsd/tls/server_context.hpp"
#include "tls_test_support.hpp"

namespace mtlsd::test {
namespace {

using tls::ticket_key;
using tls::ticket_keyring;

struct raw_key {
  std::vector<unsigned char> bytes = std::vector<unsigned char>(ticket_key::size);
  std::string hex;
};

raw_key random_key() {
  raw_key k;
  if (RAND_bytes(k.bytes.data(), static_cast<int>(k.bytes.size())) != 1) throw std::runtime_error("RAND_bytes");
  static constexpr char digits[] = "0123456789abcdef";
  for (unsigned char b : k.bytes) {
    k.hex += digits[b >> 4];
    k.hex += digits[b & 0xf];
  }
  return k;
}

std::vector<unsigned char> part(const raw_key& k, std::size_t offset, std::size_t size) {
  return {k.bytes.begin() + static_cast<std::ptrdiff_t>(offset),
          k.bytes.begin() + static_cast<std::ptrdiff_t>(offset + size)};
}

template <std::size_t N>
std::vector<unsigned char> bytes_of(const std::array<unsigned char, N>& a) {
  return {a.begin(), a.end()};
}

std::string all(const std::vector<std::string>& messages) {
  std::string text;
  for (const auto& m : messages) text += "\n  " + m;
  return text;
}

// Whether any 16-character run of `hex` appears in `text`: a message must not
// carry even a fragment of a key.
bool leaks(const std::string& text, const std::string& hex) {
  for (std::size_t i = 0; i + 16 <= hex.size(); ++i) {
    if (text.find(hex.substr(i, 16)) != std::string::npos) return true;
  }
  return false;
}

struct parsed {
  std::unique_ptr<ticket_keyring> ring;
  std::vector<std::string> errors;
};

parsed parse(const std::string& text) {
  parsed p;
  p.ring = ticket_keyring::parse(text, "keys.txt", p.errors);
  return p;
}

TEST(ticket_keyring_parse, first_key_encrypts_and_every_key_is_found_by_name) {
  const raw_key first = random_key(), second = random_key(), third = random_key();
  const auto p = parse(first.hex + "\n" + second.hex + "\n" + third.hex + "\n");
  ASSERT_TRUE(p.ring) << all(p.errors);
  EXPECT_TRUE(p.errors.empty()) << all(p.errors);
  ASSERT_EQ(p.ring->size(), 3u);

  const ticket_key& current = p.ring->current();
  // Layout: 16 bytes name, 32 bytes HMAC secret, 32 bytes AES secret.
  EXPECT_EQ(bytes_of(current.name), part(first, 0, 16));
  EXPECT_EQ(bytes_of(current.hmac_secret), part(first, 16, 32));
  EXPECT_EQ(bytes_of(current.aes_secret), part(first, 48, 32));

  for (const raw_key* k : {&first, &second, &third}) {
    const ticket_key* found = p.ring->find(k->bytes.data());
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(bytes_of(found->name), part(*k, 0, 16));
    EXPECT_EQ(bytes_of(found->aes_secret), part(*k, 48, 32));
  }
  EXPECT_EQ(p.ring->find(second.bytes.data()), p.ring->find(second.bytes.data()));
  EXPECT_NE(p.ring->find(second.bytes.data()), &p.ring->current());
  const raw_key stranger = random_key();
  EXPECT_EQ(p.ring->find(stranger.bytes.data()), nullptr);
}

TEST(ticket_keyring_parse, comments_blank_lines_whitespace_crlf_and_upper_case_are_accepted) {
  const raw_key first = random_key(), second = random_key();
  std::string upper = second.hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto p = parse("# mtlsd session ticket keys, newest first\r\n\r\n  " + first.hex + "\t\r\n   \n# " +
                       random_key().hex + "\n" + upper);
  ASSERT_TRUE(p.ring) << all(p.errors);
  ASSERT_EQ(p.ring->size(), 2u);
  EXPECT_EQ(bytes_of(p.ring->current().name), part(first, 0, 16));
  EXPECT_NE(p.ring->find(second.bytes.data()), nullptr);
}

TEST(ticket_keyring_parse, a_line_of_the_wrong_length_is_an_error_naming_its_line) {
  const raw_key good = random_key(), bad = random_key();
  const auto p = parse("# keys\n" + good.hex + "\n" + bad.hex.substr(0, 158) + "\n");
  EXPECT_FALSE(p.ring);
  ASSERT_EQ(p.errors.size(), 1u) << all(p.errors);
  EXPECT_EQ(p.errors[0],
            "keys.txt line 3: expected 160 hex characters (80 bytes), found 158 characters; generate a key with "
            "`openssl rand -hex 80`");
  EXPECT_FALSE(leaks(p.errors[0], bad.hex));
}

TEST(ticket_keyring_parse, a_line_with_a_non_hex_character_is_an_error_naming_line_and_column) {
  const raw_key good = random_key();
  std::string bad = random_key().hex;
  bad[41] = 'g';
  const auto p = parse(good.hex + "\n" + bad + "\n");
  EXPECT_FALSE(p.ring);
  ASSERT_EQ(p.errors.size(), 1u) << all(p.errors);
  EXPECT_NE(p.errors[0].find("keys.txt line 2: character 42 is not a hex digit"), std::string::npos) << p.errors[0];
  EXPECT_FALSE(leaks(p.errors[0], bad));
}

TEST(ticket_keyring_parse, every_bad_line_is_reported_at_once) {
  const raw_key good = random_key();
  const auto p = parse(good.hex + "\nnot a key\n" + good.hex + "00\n\n" + std::string(160, 'z') + "\n");
  EXPECT_FALSE(p.ring);
  ASSERT_EQ(p.errors.size(), 3u) << all(p.errors);
  EXPECT_NE(p.errors[0].find("line 2: expected 160 hex characters (80 bytes), found 9 characters"),
            std::string::npos) << p.errors[0];
  EXPECT_NE(p.errors[1].find("line 3: expected 160 hex characters (80 bytes), found 162 characters"),
            std::string::npos) << p.errors[1];
  EXPECT_NE(p.errors[2].find("line 5: character 1 is not a hex digit"), std::string::npos) << p.errors[2];
  for (const auto& e : p.errors) EXPECT_FALSE(leaks(e, good.hex)) << e;
}

TEST(ticket_keyring_parse, two_keys_with_the_same_name_are_an_error) {
  const raw_key first = random_key(), second = random_key();
  // Same 16-byte name, different secrets: a ticket under either could not be told apart.
  raw_key clash = random_key();
  clash.hex.replace(0, 32, first.hex.substr(0, 32));
  const auto p = parse(first.hex + "\n" + second.hex + "\n\n" + clash.hex + "\n");
  EXPECT_FALSE(p.ring);
  ASSERT_EQ(p.errors.size(), 1u) << all(p.errors);
  EXPECT_NE(p.errors[0].find("keys.txt line 4: the key name (its first 32 hex characters) is the same as on line 1"),
            std::string::npos)
      << p.errors[0];
  EXPECT_FALSE(leaks(p.errors[0], first.hex));
  EXPECT_FALSE(leaks(p.errors[0], clash.hex));
}

TEST(ticket_keyring_parse, a_repeated_line_is_a_duplicate_name) {
  const raw_key k = random_key();
  const auto p = parse(k.hex + "\n" + k.hex + "\n");
  EXPECT_FALSE(p.ring);
  ASSERT_EQ(p.errors.size(), 1u) << all(p.errors);
  EXPECT_NE(p.errors[0].find("line 2: the key name"), std::string::npos) << p.errors[0];
}

TEST(ticket_keyring_parse, a_file_without_keys_is_an_error) {
  for (const std::string text : {"", "\n\n", "# rotated out everything\n   \n"}) {
    const auto p = parse(text);
    EXPECT_FALSE(p.ring);
    ASSERT_EQ(p.errors.size(), 1u) << all(p.errors);
    EXPECT_EQ(p.errors[0],
              "keys.txt holds no keys: expected one key per line, 160 hex characters each; generate a key with "
              "`openssl rand -hex 80`");
  }
}

TEST(ticket_keyring_parse, bad_lines_do_not_also_count_as_no_keys) {
  const auto p = parse("xyz\n");
  ASSERT_EQ(p.errors.size(), 1u) << all(p.errors);
  EXPECT_NE(p.errors[0].find("line 1:"), std::string::npos) << p.errors[0];
}

class ticket_keyring_load : public ::testing::Test {
 protected:
  std::filesystem::path write_keys(const std::string& text, mode_t mode) {
    const auto path = dir / "keys.txt";
    write_file(path, text);
    if (::chmod(path.c_str(), mode) != 0) throw std::runtime_error("chmod");
    return path;
  }

  temp_dir dir;
  std::vector<std::string> errors;
};

TEST_F(ticket_keyring_load, every_key_in_the_file_is_loaded) {
  const raw_key a = random_key(), b = random_key();
  const auto ring = ticket_keyring::load(write_keys(a.hex + "\n" + b.hex + "\n", 0600), errors);
  ASSERT_TRUE(ring) << all(errors);
  EXPECT_EQ(ring->size(), 2u);
  EXPECT_EQ(bytes_of(ring->current().hmac_secret), part(a, 16, 32));
}

TEST_F(ticket_keyring_load, missing_file_is_an_error) {
  const auto path = dir / "nowhere.txt";
  const auto ring = ticket_keyring::load(path, errors);
  EXPECT_FALSE(ring);
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_EQ(errors[0], "cannot read " + path.string() + ": No such file or directory");
}

TEST_F(ticket_keyring_load, errors_name_the_file) {
  const auto path = write_keys("deadbeef\n", 0600);
  const auto ring = ticket_keyring::load(path, errors);
  EXPECT_FALSE(ring);
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_EQ(errors[0].rfind(path.string() + " line 1: expected 160 hex characters", 0), 0u) << errors[0];
}

class server_context_tickets : public ::testing::Test {
 protected:
  server_context_tickets() {
    service.session_ticket_key_file = keys_dir / "tickets.key";
    service.positions["session_ticket_key_file"] = {"conf/mtlsd.toml", 12, 27};
  }

  void write_keys(const std::string& text, mode_t mode = 0600) {
    write_file(service.session_ticket_key_file, text);
    if (::chmod(service.session_ticket_key_file.c_str(), mode) != 0) throw std::runtime_error("chmod");
  }

  std::shared_ptr<const tls::server_context> build(const std::set<std::string>& known_bad = {}) {
    return tls::server_context::build(service, errors, warnings, known_bad);
  }

  server_pki pki;
  temp_dir keys_dir;
  service_config service = make_service(pki);
  config_errors errors;
  std::vector<std::string> warnings;
};

TEST_F(server_context_tickets, without_a_key_file_sessions_stay_in_a_bounded_cache) {
  service.session_ticket_key_file.clear();
  service.session_cache_size = 321;
  const auto context = build();
  ASSERT_TRUE(context);
  EXPECT_EQ(context->ticket_key_count(), 0u);
  // Stateful tickets: the ticket names a session kept here.
  EXPECT_NE(SSL_CTX_get_options(context->native()) & SSL_OP_NO_TICKET, 0u);
  EXPECT_EQ(SSL_CTX_sess_get_cache_size(context->native()), 321);
}

TEST_F(server_context_tickets, without_a_key_file_and_no_cache_openssl_keeps_its_own_keys) {
  service.session_ticket_key_file.clear();
  service.session_cache_size = 0;
  const auto context = build();
  ASSERT_TRUE(context);
  EXPECT_EQ(context->ticket_key_count(), 0u);
  EXPECT_EQ(SSL_CTX_get_options(context->native()) & SSL_OP_NO_TICKET, 0u);
}

TEST_F(server_context_tickets, keys_from_the_file_are_counted) {
  write_keys(random_key().hex + "\n" + random_key().hex + "\n" + random_key().hex + "\n");
  const auto context = build();
  ASSERT_TRUE(context);
  EXPECT_TRUE(errors.empty());
  EXPECT_TRUE(warnings.empty()) << all(warnings);
  EXPECT_EQ(context->ticket_key_count(), 3u);
  EXPECT_EQ(SSL_CTX_get_options(context->native()) & SSL_OP_NO_TICKET, 0u);
}

TEST_F(server_context_tickets, each_bad_line_is_an_error_on_the_config_key) {
  write_keys(random_key().hex + "\nshort\n" + random_key().hex + "\n" + std::string(160, '-') + "\n");
  const auto context = build();
  EXPECT_FALSE(context);
  ASSERT_EQ(errors.size(), 2u);
  const std::string file = service.session_ticket_key_file.string();
  EXPECT_EQ(errors[0].to_string(), "conf/mtlsd.toml:12:27: service[svc].session_ticket_key_file: " + file +
                                       " line 2: expected 160 hex characters (80 bytes), found 5 characters; "
                                       "generate a key with `openssl rand -hex 80`");
  EXPECT_EQ(errors[1].key, "service[svc].session_ticket_key_file");
  EXPECT_EQ(errors[1].where.line, 12);
  EXPECT_NE(errors[1].message.find(file + " line 4: character 1 is not a hex digit"), std::string::npos)
      << errors[1].message;
}

TEST_F(server_context_tickets, an_empty_file_is_an_error) {
  write_keys("# nothing yet\n");
  EXPECT_FALSE(build());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "service[svc].session_ticket_key_file");
  EXPECT_NE(errors[0].message.find("holds no keys"), std::string::npos) << errors[0].message;
}

TEST_F(server_context_tickets, an_unreadable_file_is_an_error) {
  // The loader checked the file; it can still be gone by the time contexts are built.
  const auto context = build();
  EXPECT_FALSE(context);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "cannot read " + service.session_ticket_key_file.string() + ": No such file or directory");
  EXPECT_EQ(errors[0].where.column, 27);
}

TEST_F(server_context_tickets, a_file_others_can_read_refuses_the_service) {
  // Whoever reads these keys can decrypt resumed sessions and forge tickets.
  write_keys(random_key().hex + "\n", 0644);
  EXPECT_FALSE(build());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "service[svc].session_ticket_key_file");
  EXPECT_EQ(errors[0].message.rfind("session_ticket_key_file " + service.session_ticket_key_file.string() +
                                        ": mode 0644 lets others read it",
                                    0),
            0u)
      << errors[0].message;
}

TEST_F(server_context_tickets, a_file_the_loader_already_faulted_is_not_read_again) {
  const auto context = build({"session_ticket_key_file"});
  EXPECT_TRUE(errors.empty());
  ASSERT_TRUE(context);
  EXPECT_EQ(context->ticket_key_count(), 0u);
}

}  // namespace
}  // namespace mtlsd::test
