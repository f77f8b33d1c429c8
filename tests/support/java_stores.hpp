#pragma once
// Java-world keystores and truststores for tests, made at test time by the
// real tools — keytool (OpenJDK) and `openssl pkcs12 -export` — from a test
// PKI, so that what is tested is what users bring. The JVM starts slowly, so
// one set is made per test process, each store on first use (java_stores::
// shared()), and removed at exit. Owned by the keystore helper.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pki.hpp"

namespace mtlsd::test {

class java_stores {
 public:
  // The process-wide set (a fresh directory with the PKI written to it).
  static java_stores& shared();

  // Every store's password, and so (keytool's default) every key's too.
  static constexpr const char* password = "changeit";

  // The server chain: root CA -> intermediate CA -> leaf (CN=localhost,
  // 127.0.0.1, ::1); stores hold the leaf and the intermediate. Clients come
  // from client_ca; other_client_ca is trusted by no store.
  const issued& server_root() const { return server_root_; }
  const issued& server_intermediate() const { return server_intermediate_; }
  const issued& server_leaf() const { return server_leaf_; }
  const issued& client_ca() const { return client_ca_; }
  const issued& other_client_ca() const { return other_client_ca_; }

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path server_root_file() const { return dir_ / "server-root.crt"; }
  std::filesystem::path client_ca_file() const { return dir_ / "client-ca.crt"; }
  // The same leaf as PEM (leaf + intermediate; unencrypted key), for cert/key.
  std::filesystem::path server_chain_file() const { return dir_ / "server-chain.crt"; }
  std::filesystem::path server_key_file() const { return dir_ / "server.key"; }
  // A file holding `password` and a newline, for *_password_file.
  std::filesystem::path password_file() const { return dir_ / "store.pass"; }

  // Server keystores with one private-key entry "server": leaf + intermediate.
  std::filesystem::path openssl_p12();  // openssl pkcs12 -export (its defaults: PBES2 AES-256, SHA-256 MAC)
  std::filesystem::path keytool_p12();  // keytool -importkeystore of the above (Java 17's PKCS#12 defaults)
  std::filesystem::path keytool_jks();  // keytool -importkeystore -deststoretype JKS
  // Two private-key entries, "first" and "second" (keytool -genkeypair, JKS).
  std::filesystem::path two_keys_jks();
  // A JCEKS store (keytool -storetype JCEKS).
  std::filesystem::path jceks();
  // Truststores: one trusted-certificate entry "clientca" (keytool -importcert).
  std::filesystem::path truststore_jks();
  std::filesystem::path truststore_p12();
  // keytool_p12() plus a trusted-certificate entry "clientca": a keystore
  // pressed into service as a truststore.
  std::filesystem::path key_and_trusted_p12();

 private:
  java_stores();
  std::filesystem::path make(const std::string& name, const std::vector<std::vector<std::string>>& keytool_runs);

  temp_dir dir_;
  issued server_root_, server_intermediate_, server_leaf_, client_ca_, other_client_ca_;
};

// `openssl pkcs12 -export` of `leaf`'s key and certificate followed by
// `chain`, with friendlyName `alias` and java_stores::password.
void openssl_pkcs12_export(const std::filesystem::path& out, const issued& leaf,
                           const std::vector<const issued*>& chain, const std::string& alias);

// keytool's path ($PATH, then $JAVA_HOME/bin); throws with install advice
// when there is none.
std::string keytool_program();

// Runs keytool with `args`; throws harness_error with its output on failure.
void run_keytool(const std::vector<std::string>& args);

}  // namespace mtlsd::test
