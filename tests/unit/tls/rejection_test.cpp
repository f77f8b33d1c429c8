// The rejection vocabulary: the exact words logs, metrics and the docs use,
// and how OpenSSL's verification errors map onto them.

#include "mtlsd/tls/rejection.hpp"

#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mtlsd {
namespace {

TEST(rejection_reason_words, every_reason_has_its_documented_word) {
  const std::vector<std::pair<rejection_reason, std::string>> expected = {
      {rejection_reason::no_certificate, "no_certificate"},
      {rejection_reason::expired, "expired"},
      {rejection_reason::not_yet_valid, "not_yet_valid"},
      {rejection_reason::unknown_ca, "unknown_ca"},
      {rejection_reason::bad_signature, "bad_signature"},
      {rejection_reason::depth_exceeded, "depth_exceeded"},
      {rejection_reason::bad_eku, "bad_eku"},
      {rejection_reason::not_whitelisted, "not_whitelisted"},
      {rejection_reason::revoked, "revoked"},
      {rejection_reason::revocation_unknown, "revocation_unknown"},
      {rejection_reason::crl_stale, "crl_stale"},
      {rejection_reason::weak_key, "weak_key"},
      {rejection_reason::name_constraints, "name_constraints"},
      {rejection_reason::invalid_svid, "invalid_svid"},
      {rejection_reason::unrecognized_name, "unrecognized_name"},
      {rejection_reason::hostname_mismatch, "hostname_mismatch"},
      {rejection_reason::protocol_version, "protocol_version"},
      {rejection_reason::timeout, "timeout"},
      {rejection_reason::other, "other"},
  };
  std::set<std::string> seen;
  for (const auto& [reason, word] : expected) {
    EXPECT_EQ(to_string(reason), word);
    seen.insert(std::string(to_string(reason)));
  }
  EXPECT_EQ(seen.size(), expected.size()) << "two reasons share a word";
}

struct verify_error_case {
  int x509_error;
  const char* name;
  rejection_reason expected;
};

class classify : public ::testing::TestWithParam<verify_error_case> {};

TEST_P(classify, maps_verify_error_to_the_vocabulary) {
  const auto& c = GetParam();
  EXPECT_EQ(to_string(classify_verify_error(c.x509_error)), to_string(c.expected)) << c.name;
}

#define MTLSD_CASE(code, reason) verify_error_case{code, #code, rejection_reason::reason}

INSTANTIATE_TEST_SUITE_P(
    x509_errors, classify,
    ::testing::Values(MTLSD_CASE(X509_V_ERR_CERT_HAS_EXPIRED, expired),
                      MTLSD_CASE(X509_V_ERR_CERT_NOT_YET_VALID, not_yet_valid),
                      MTLSD_CASE(X509_V_ERR_HOSTNAME_MISMATCH, hostname_mismatch),
                      MTLSD_CASE(X509_V_ERR_IP_ADDRESS_MISMATCH, hostname_mismatch),
                      MTLSD_CASE(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, unknown_ca),
                      MTLSD_CASE(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, unknown_ca),
                      MTLSD_CASE(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, unknown_ca),
                      MTLSD_CASE(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, unknown_ca),
                      MTLSD_CASE(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, unknown_ca),
                      MTLSD_CASE(X509_V_ERR_INVALID_CA, unknown_ca),
                      MTLSD_CASE(X509_V_ERR_CERT_UNTRUSTED, unknown_ca),
                      MTLSD_CASE(X509_V_ERR_CERT_SIGNATURE_FAILURE, bad_signature),
                      MTLSD_CASE(X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, bad_signature),
                      MTLSD_CASE(X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, bad_signature),
                      MTLSD_CASE(X509_V_ERR_CERT_CHAIN_TOO_LONG, depth_exceeded),
                      MTLSD_CASE(X509_V_ERR_PATH_LENGTH_EXCEEDED, depth_exceeded),
                      MTLSD_CASE(X509_V_ERR_INVALID_PURPOSE, bad_eku),
                      MTLSD_CASE(X509_V_ERR_APPLICATION_VERIFICATION, not_whitelisted),
                      MTLSD_CASE(X509_V_ERR_CERT_REVOKED, revoked),
                      MTLSD_CASE(X509_V_ERR_UNABLE_TO_GET_CRL, revocation_unknown),
                      MTLSD_CASE(X509_V_ERR_CRL_HAS_EXPIRED, crl_stale),
                      MTLSD_CASE(X509_V_ERR_EE_KEY_TOO_SMALL, weak_key),
                      MTLSD_CASE(X509_V_ERR_CA_KEY_TOO_SMALL, weak_key),
                      MTLSD_CASE(X509_V_ERR_PERMITTED_VIOLATION, name_constraints),
                      MTLSD_CASE(X509_V_ERR_EXCLUDED_VIOLATION, name_constraints),
                      // A CRL that cannot be used establishes nothing about revocation.
                      MTLSD_CASE(X509_V_ERR_CRL_SIGNATURE_FAILURE, revocation_unknown),
                      MTLSD_CASE(X509_V_ERR_CRL_NOT_YET_VALID, revocation_unknown),
                      MTLSD_CASE(X509_V_ERR_KEYUSAGE_NO_CRL_SIGN, revocation_unknown),
                      MTLSD_CASE(X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION, revocation_unknown),
                      MTLSD_CASE(X509_V_ERR_OUT_OF_MEM, other),
                      MTLSD_CASE(X509_V_OK, other)),
    [](const ::testing::TestParamInfo<verify_error_case>& p) {
      std::string name = p.param.name;
      return name.substr(std::string("X509_V_").size());
    });

#undef MTLSD_CASE

}  // namespace
}  // namespace mtlsd
