// extract_identity() on real certificates from the test PKI, checked against
// independent OpenSSL computations, and extraction followed by admission.

#include "mtlsd/identity/identity.hpp"
#include "mtlsd/identity/policy.hpp"
#include "pki.hpp"

#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <string>

namespace mtlsd {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using test::cert_spec;
using test::issued;

std::string to_hex(const unsigned char* data, std::size_t length) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < length; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

std::int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class extract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_spec spec;
    spec.cn = {"Test Root"};
    spec.o = {"mtlsd tests"};
    spec.is_ca = true;
    root_ = new issued(test::make_self_signed(spec));
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }

  static issued leaf(const cert_spec& spec) { return test::issue(spec, *root_); }

  // Re-signs a certificate changed after issuance and re-parses it, so the
  // object looks like one received from a peer.
  static void resign(issued& cert) {
    ASSERT_GT(X509_sign(cert.cert.get(), root_->key.get(), EVP_sha256()), 0);
    unsigned char* der = nullptr;
    const int length = i2d_X509(cert.cert.get(), &der);
    ASSERT_GT(length, 0);
    const unsigned char* cursor = der;
    cert.cert.reset(d2i_X509(nullptr, &cursor, length));
    OPENSSL_free(der);
    ASSERT_NE(cert.cert, nullptr);
  }

  static inline issued* root_ = nullptr;
};

TEST_F(extract, all_fields) {
  cert_spec spec;
  spec.cn = {"client-1"};
  spec.ou = {"ops", "payments"};
  spec.o = {"Partner Corp"};
  spec.dns = {"a.partner.example", "B.partner.example"};
  spec.uri = {"spiffe://example.org/partner/a"};
  spec.email = {"ops@partner.example"};
  spec.ip = {"10.1.2.3", "2001:db8::1"};
  spec.not_before = -2h;
  spec.not_after = 48h;
  const std::int64_t before = now();
  const auto cert = leaf(spec);
  const std::int64_t after = now();

  const client_identity id = extract_identity(cert.cert.get());
  EXPECT_EQ(id.subject, "CN=client-1,OU=payments,OU=ops,O=Partner Corp");
  EXPECT_EQ(id.issuer, "CN=Test Root,O=mtlsd tests");
  EXPECT_EQ(id.cn, std::vector<std::string>{"client-1"});
  EXPECT_EQ(id.ou, (std::vector<std::string>{"ops", "payments"}));
  EXPECT_EQ(id.o, std::vector<std::string>{"Partner Corp"});
  EXPECT_EQ(id.dns, (std::vector<std::string>{"a.partner.example", "B.partner.example"}));
  EXPECT_EQ(id.uri, std::vector<std::string>{"spiffe://example.org/partner/a"});
  EXPECT_EQ(id.email, std::vector<std::string>{"ops@partner.example"});
  EXPECT_EQ(id.ip, (std::vector<std::string>{"10.1.2.3", "2001:db8::1"}));
  EXPECT_GE(id.not_before, before - 2 * 3600 - 1);
  EXPECT_LE(id.not_before, after - 2 * 3600 + 1);
  EXPECT_GE(id.not_after, before + 48 * 3600 - 1);
  EXPECT_LE(id.not_after, after + 48 * 3600 + 1);

  int days = 0;
  int seconds = 0;
  ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
  ASSERT_NE(epoch, nullptr);
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, epoch, X509_get0_notAfter(cert.cert.get())), 1);
  ASN1_TIME_free(epoch);
  EXPECT_EQ(id.not_after, std::int64_t{days} * 86400 + seconds);
}

TEST_F(extract, serial_is_uppercase_hex_of_the_certificate_serial) {
  const auto cert = leaf(cert_spec{});
  const client_identity id = extract_identity(cert.cert.get());
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.cert.get()), nullptr);
  ASSERT_NE(bn, nullptr);
  char* hex = BN_bn2hex(bn);
  EXPECT_EQ(id.serial, std::string(hex));
  OPENSSL_free(hex);
  BN_free(bn);
  EXPECT_EQ(id.serial.size(), 32u);
  EXPECT_EQ(id.serial.find_first_not_of("0123456789ABCDEF"), std::string::npos);
}

TEST_F(extract, fingerprint_is_sha256_of_the_der) {
  const auto cert = leaf(cert_spec{});
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert.cert.get(), &der);
  ASSERT_GT(length, 0);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_length = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<std::size_t>(length), md, &md_length, EVP_sha256(), nullptr), 1);
  OPENSSL_free(der);

  const client_identity id = extract_identity(cert.cert.get());
  EXPECT_EQ(id.sha256, to_hex(md, md_length));
  EXPECT_EQ(id.sha256, cert.sha256_hex());
  EXPECT_EQ(id.sha256.size(), 64u);
}

TEST_F(extract, several_cns_are_all_reported_in_order) {
  cert_spec spec;
  spec.cn = {"partner-a", "partner-b", "partner-a"};
  const client_identity id = extract_identity(leaf(spec).cert.get());
  EXPECT_EQ(id.cn, (std::vector<std::string>{"partner-a", "partner-b", "partner-a"}));
  EXPECT_EQ(id.subject, "CN=partner-a,CN=partner-b,CN=partner-a");
}

TEST_F(extract, embedded_nul_bytes_are_preserved_in_every_field) {
  cert_spec spec;
  spec.cn = {"partner-a\0.evil"s};
  spec.ou = {"ops\0x"s};
  spec.o = {"\0Org"s};
  spec.dns = {"a.partner.example\0.evil"s};
  spec.uri = {"spiffe://e.org/p/a\0b"s};
  spec.email = {"a@b.example\0c"s};
  const client_identity id = extract_identity(leaf(spec).cert.get());
  EXPECT_EQ(id.cn, std::vector<std::string>{"partner-a\0.evil"s});
  EXPECT_EQ(id.ou, std::vector<std::string>{"ops\0x"s});
  EXPECT_EQ(id.o, std::vector<std::string>{"\0Org"s});
  EXPECT_EQ(id.dns, std::vector<std::string>{"a.partner.example\0.evil"s});
  EXPECT_EQ(id.uri, std::vector<std::string>{"spiffe://e.org/p/a\0b"s});
  EXPECT_EQ(id.email, std::vector<std::string>{"a@b.example\0c"s});
  // In the log form the NUL is an RFC 2253 escape, not a raw byte.
  EXPECT_EQ(id.subject, R"(CN=partner-a\00.evil,OU=ops\00x,O=\00Org)");
}

TEST_F(extract, subject_never_contains_raw_control_characters) {
  cert_spec spec;
  spec.cn = {"a\nb\x1b[31m\x7f"s};
  spec.ou = {"c1\xc2\x85|bidi\xe2\x80\xae|sep\xe2\x80\xa8"s};
  spec.o = {"Müller, \"Ltd\""};
  const client_identity id = extract_identity(leaf(spec).cert.get());
  EXPECT_EQ(id.subject, R"(CN=a\0Ab\1B[31m\7F,OU=c1\C2\85|bidi\E2\80\AE|sep\E2\80\A8,O=Müller\, \"Ltd\")");
  for (const char c : id.subject) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7f);
  }
  // The values themselves are kept as encoded, converted to UTF-8.
  EXPECT_EQ(id.cn, std::vector<std::string>{"a\nb\x1b[31m\x7f"s});
  EXPECT_EQ(id.o, std::vector<std::string>{"Müller, \"Ltd\""});
}

TEST_F(extract, ipv6_and_mapped_addresses_use_inet_ntop_form) {
  cert_spec spec;
  spec.ip = {"2001:0db8:0000:0000:0000:0000:0000:0001", "::1", "::ffff:10.1.2.3", "fe80::1:2"};
  const client_identity id = extract_identity(leaf(spec).cert.get());
  EXPECT_EQ(id.ip, (std::vector<std::string>{"2001:db8::1", "::1", "::ffff:10.1.2.3", "fe80::1:2"}));
}

TEST_F(extract, malformed_ip_octets_and_odd_string_types) {
  cert_spec spec;
  spec.cn = {"partner-a"};
  auto cert = leaf(spec);

  // A 3-octet iPAddress: not an address, reported as hex.
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  ASN1_OCTET_STRING* octets = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(octets, reinterpret_cast<const unsigned char*>("\x0a\x01\x02"), 3);
  GENERAL_NAME* name = GENERAL_NAME_new();
  GENERAL_NAME_set0_value(name, GEN_IPADD, octets);
  sk_GENERAL_NAME_push(names, name);
  ASSERT_EQ(X509_add1_ext_i2d(cert.cert.get(), NID_subject_alt_name, names, 0, X509V3_ADD_REPLACE), 1);
  GENERAL_NAMES_free(names);

  // A BMPString OU (UCS-2 "Ops"), and a CN whose value is a SEQUENCE, which
  // OpenSSL parses but has no UTF-8 form for. (A UTF8String that is not
  // UTF-8 cannot reach extraction: OpenSSL refuses to parse it.)
  X509_NAME* subject = X509_get_subject_name(cert.cert.get());
  ASSERT_EQ(X509_NAME_add_entry_by_NID(subject, NID_organizationalUnitName, V_ASN1_BMPSTRING,
                                       reinterpret_cast<const unsigned char*>("\0O\0p\0s"), 6, -1, 0),
            1);
  ASSERT_EQ(X509_NAME_add_entry_by_NID(subject, NID_commonName, V_ASN1_SEQUENCE,
                                       reinterpret_cast<const unsigned char*>("\x30\x03\x02\x01\x05"), 5, -1, 0),
            1);
  resign(cert);

  const client_identity id = extract_identity(cert.cert.get());
  EXPECT_EQ(id.ip, std::vector<std::string>{"invalid:0a0102"});
  EXPECT_EQ(id.ou, std::vector<std::string>{"Ops"});
  ASSERT_EQ(id.cn.size(), 2u);
  EXPECT_EQ(id.cn[0], "partner-a");
  EXPECT_EQ(id.cn[1], "\0undecodable:3003020105"s);
  for (const char c : id.subject) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7f);
  }

  // The undecodable CN still counts: "partner-a" is not the only CN.
  allow_rules rules;
  rules.cn = {"partner-a"};
  const auto verdict = admit(id, allow_policy(rules));
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.detail,
            R"(cn=["partner-a","\0undecodable:3003020105"] (2 CNs: CN rules need exactly one) (values containing NUL never match))");
}

TEST_F(extract, a_certificate_without_subject_or_sans_has_empty_fields) {
  const auto cert = leaf(cert_spec{});
  const client_identity id = extract_identity(cert.cert.get());
  EXPECT_EQ(id.subject, "");
  EXPECT_TRUE(id.cn.empty() && id.ou.empty() && id.o.empty());
  EXPECT_TRUE(id.dns.empty() && id.uri.empty() && id.email.empty() && id.ip.empty());
  EXPECT_EQ(id.sha256.size(), 64u);
}

TEST_F(extract, null_certificate_gives_an_empty_identity) {
  const client_identity id = extract_identity(nullptr);
  EXPECT_TRUE(id.subject.empty() && id.sha256.empty() && id.cn.empty());
}

TEST(colon_hex, groups_uppercase_pairs) {
  EXPECT_EQ(colon_hex("ab12cd"), "AB:12:CD");
  EXPECT_EQ(colon_hex(""), "");
  EXPECT_EQ(colon_hex("0f"), "0F");
  const std::string fp(64, 'e');
  const std::string out = colon_hex(fp);
  EXPECT_EQ(out.size(), 95u);
  EXPECT_EQ(out.substr(0, 6), "EE:EE:");
}

// Extraction feeding the whitelist: the path a handshake takes.
TEST_F(extract, then_admit) {
  cert_spec spec;
  spec.cn = {"partner-b"};
  spec.dns = {"api.partner.example"};
  spec.ip = {"2001:db8::7"};
  const auto cert = leaf(spec);
  const client_identity id = extract_identity(cert.cert.get());

  allow_rules by_wildcard;
  by_wildcard.cn = {"partner-a"};
  by_wildcard.dns = {"*.partner.example"};
  auto verdict = admit(id, allow_policy(by_wildcard));
  EXPECT_TRUE(verdict.allowed);
  EXPECT_EQ(verdict.detail, R"(dns="*.partner.example")");

  allow_rules by_pin;
  by_pin.sha256 = {cert.sha256_hex()};
  EXPECT_TRUE(admit(id, allow_policy(by_pin)).allowed);
  const auto other = leaf(spec);  // same names, different certificate
  const auto refused = admit(extract_identity(other.cert.get()), allow_policy(by_pin));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.detail, "sha256=" + other.sha256_hex());

  allow_rules by_ip;
  by_ip.ip = {"2001:db8::7"};
  EXPECT_TRUE(admit(id, allow_policy(by_ip)).allowed);

  allow_rules by_cn;
  by_cn.cn = {"partner-a"};
  verdict = admit(id, allow_policy(by_cn));
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.detail, R"(cn=["partner-b"])");
}

TEST_F(extract, then_admit_refuses_nul_and_multi_cn_tricks) {
  allow_rules rules;
  rules.cn = {"partner-a"};
  rules.dns = {"*.partner.example"};

  cert_spec nul;
  nul.cn = {"partner-a\0.evil.example"s};
  nul.dns = {"a.partner.example\0.evil.example"s};
  const auto a = admit(extract_identity(leaf(nul).cert.get()), allow_policy(rules));
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.detail,
            R"(cn=["partner-a\0.evil.example"] dns=["a.partner.example\0.evil.example"] (values containing NUL never match))");

  cert_spec two;
  two.cn = {"partner-a", "attacker"};
  EXPECT_FALSE(admit(extract_identity(leaf(two).cert.get()), allow_policy(rules)).allowed);

  cert_spec good;
  good.cn = {"partner-a"};
  const auto ok = admit(extract_identity(leaf(good).cert.get()), allow_policy(rules));
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.detail, R"(cn="partner-a")");
}

}  // namespace
}  // namespace mtlsd
