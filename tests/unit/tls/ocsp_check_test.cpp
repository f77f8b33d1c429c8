// Owner: tls module tests. Judging OCSP answers about a client certificate:
// what is believed (issuer-signed, about this certificate, current) and what
// is not, and the question built for a responder.
#include <gtest/gtest.h>

#include <ctime>

#include "mtlsd/tls/ocsp_check.hpp"
#include "mtlsd/tls/openssl.hpp"
#include "pki.hpp"

namespace mtlsd::test {
namespace {

using tls::ocsp_status;

class ocsp_judging : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_spec ca;
    ca.cn = {"OCSP test CA"};
    ca.is_ca = true;
    ca_ = new issued(make_self_signed(ca));
    cert_spec other = ca;
    other.cn = {"Some other CA"};
    other_ca_ = new issued(make_self_signed(other));
    cert_spec leaf;
    leaf.cn = {"client"};
    leaf_ = new issued(issue(leaf, *ca_));
  }
  static void TearDownTestSuite() {
    delete leaf_;
    delete other_ca_;
    delete ca_;
  }

  tls::ocsp_answer judge(const std::string& der) {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
    X509_STORE_add_cert(store.get(), ca_->cert.get());
    return tls::judge_ocsp_response(der, leaf_->cert.get(), ca_->cert.get(), nullptr, store.get(), std::time(nullptr));
  }

  static issued* ca_;
  static issued* other_ca_;
  static issued* leaf_;
};
issued* ocsp_judging::ca_ = nullptr;
issued* ocsp_judging::other_ca_ = nullptr;
issued* ocsp_judging::leaf_ = nullptr;

TEST_F(ocsp_judging, a_good_answer_is_cached_until_its_next_update) {
  ocsp_spec spec;
  spec.next_update = std::chrono::hours(2);
  const auto answer = judge(make_ocsp_response(spec, *leaf_, *ca_));
  EXPECT_EQ(answer.status, ocsp_status::good) << answer.detail;
  const std::int64_t expected = std::time(nullptr) + 2 * 3600;
  EXPECT_NEAR(static_cast<double>(answer.cache_until), static_cast<double>(expected), 5);
}

TEST_F(ocsp_judging, revoked_and_unknown_are_told_apart) {
  ocsp_spec revoked;
  revoked.cert_status = ocsp_spec::status::revoked;
  const auto r = judge(make_ocsp_response(revoked, *leaf_, *ca_));
  EXPECT_EQ(r.status, ocsp_status::revoked);
  EXPECT_NE(r.detail.find(", reason keyCompromise (OCSP, thisUpdate "), std::string::npos) << r.detail;

  ocsp_spec unknown;
  unknown.cert_status = ocsp_spec::status::unknown;
  const auto u = judge(make_ocsp_response(unknown, *leaf_, *ca_));
  EXPECT_EQ(u.status, ocsp_status::unknown);
  EXPECT_LE(u.cache_until, std::time(nullptr) + 30) << "unknown is not kept long";
}

TEST_F(ocsp_judging, answers_that_cannot_be_believed_are_no_answer) {
  // Signed by a CA the truststore does not hold.
  const auto foreign = judge(make_ocsp_response({}, *leaf_, *other_ca_));
  EXPECT_EQ(foreign.status, ocsp_status::unavailable);
  EXPECT_NE(foreign.detail.find("does not verify"), std::string::npos) << foreign.detail;

  ocsp_spec stale;
  stale.this_update = -std::chrono::hours(3);
  stale.next_update = -std::chrono::hours(1);
  const auto old = judge(make_ocsp_response(stale, *leaf_, *ca_));
  EXPECT_EQ(old.status, ocsp_status::unavailable);
  EXPECT_NE(old.detail.find("is not current"), std::string::npos) << old.detail;

  const auto garbage = judge("HTTP/1.1 200 OK but not DER");
  EXPECT_EQ(garbage.status, ocsp_status::unavailable);
  EXPECT_EQ(garbage.detail, "the responder's answer is not an OCSP response");
}

TEST_F(ocsp_judging, an_answer_about_another_certificate_is_no_answer) {
  cert_spec other_leaf;
  other_leaf.cn = {"someone else"};
  const issued someone = issue(other_leaf, *ca_);
  const auto answer = judge(make_ocsp_response({}, someone, *ca_));
  EXPECT_EQ(answer.status, ocsp_status::unavailable);
  EXPECT_EQ(answer.detail, "the OCSP response is not about this certificate");
}

TEST_F(ocsp_judging, a_question_needs_a_responder) {
  std::string error;
  EXPECT_FALSE(tls::make_ocsp_exchange(leaf_->cert.get(), ca_->cert.get(), "", error));
  EXPECT_NE(error.find("names no http:// OCSP responder"), std::string::npos) << error;

  auto exchange = tls::make_ocsp_exchange(leaf_->cert.get(), ca_->cert.get(), "http://127.0.0.1:9/ocsp", error);
  ASSERT_TRUE(exchange) << error;
  EXPECT_EQ(exchange->url, "http://127.0.0.1:9/ocsp");
  EXPECT_FALSE(exchange->request.empty());
  // The same certificate asked of another responder is another cache entry.
  auto elsewhere = tls::make_ocsp_exchange(leaf_->cert.get(), ca_->cert.get(), "http://127.0.0.1:10/", error);
  ASSERT_TRUE(elsewhere);
  EXPECT_NE(exchange->cache_key, elsewhere->cache_key);
}

TEST(ocsp_cache, answers_are_kept_until_their_time) {
  tls::ocsp_answer good{ocsp_status::good, "good", std::time(nullptr) + 60};
  tls::remember_ocsp_answer("key-a", good);
  ASSERT_TRUE(tls::cached_ocsp_answer("key-a", std::time(nullptr)));
  EXPECT_FALSE(tls::cached_ocsp_answer("key-a", std::time(nullptr) + 61));
  EXPECT_FALSE(tls::cached_ocsp_answer("key-b", std::time(nullptr)));
  tls::ocsp_answer never{ocsp_status::unavailable, "x", 0};
  tls::remember_ocsp_answer("key-c", never);
  EXPECT_FALSE(tls::cached_ocsp_answer("key-c", std::time(nullptr)));
}

}  // namespace
}  // namespace mtlsd::test
