// Java-world stores for tests (java_stores.hpp).
#include "java_stores.hpp"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "process.hpp"

namespace mtlsd::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// keytool and openssl sometimes ask on the terminal; never let them wait.
constexpr auto tool_timeout = 60s;

cert_spec ca_named(const std::string& cn) {
  cert_spec spec;
  spec.is_ca = true;
  spec.cn = {cn};
  return spec;
}

void run_or_throw(std::vector<std::string> argv) {
  process_options options;
  options.search_path = argv[0].find('/') == std::string::npos;
  const std::string command = argv[0];
  auto result = run_command(std::move(argv), tool_timeout, {}, options);
  if (result.status != 0)
    throw harness_error(command + " failed (exit " + std::to_string(result.status) + "):\n" + result.out + result.err);
}

}  // namespace

std::string keytool_program() {
  if (have_program("keytool")) return "keytool";
  if (const char* home = std::getenv("JAVA_HOME")) {
    const fs::path candidate = fs::path(home) / "bin" / "keytool";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  throw std::runtime_error(
      "keytool not found in $PATH or $JAVA_HOME/bin: the keystore tests make their stores with OpenJDK's keytool; "
      "install openjdk-17-jre-headless (scripts/install-deps does)");
}

void run_keytool(const std::vector<std::string>& args) {
  std::vector<std::string> argv{keytool_program()};
  argv.insert(argv.end(), args.begin(), args.end());
  run_or_throw(std::move(argv));
}

java_stores& java_stores::shared() {
  static java_stores stores;
  return stores;
}

java_stores::java_stores() {
  server_root_ = make_self_signed(ca_named("mtlsd test keystore root"));
  server_intermediate_ = issue(ca_named("mtlsd test keystore intermediate"), server_root_);
  cert_spec leaf;
  leaf.cn = {"localhost"};
  leaf.dns = {"localhost"};
  leaf.ip = {"127.0.0.1", "::1"};
  leaf.eku = eku_kind::server_auth;
  server_leaf_ = issue(leaf, server_intermediate_);
  client_ca_ = make_self_signed(ca_named("mtlsd test keystore client CA"));
  other_client_ca_ = make_self_signed(ca_named("mtlsd test other client CA"));

  write_file(server_root_file(), server_root_.cert_pem());
  write_file(client_ca_file(), client_ca_.cert_pem());
  write_file(password_file(), std::string(password) + "\n");
  write_file(server_chain_file(), server_leaf_.cert_pem() + server_intermediate_.cert_pem());
  write_file(server_key_file(), server_leaf_.key_pem());
}

namespace {

// Stores hold private keys: mtlsd refuses them when others can read them,
// as an operator's must not be (keytool and openssl follow the umask).
void private_to_owner(const fs::path& path) {
  if (fs::exists(path)) fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace

fs::path java_stores::make(const std::string& name, const std::vector<std::vector<std::string>>& keytool_runs) {
  const fs::path path = dir_ / name;
  if (fs::exists(path)) return path;
  for (const auto& args : keytool_runs) run_keytool(args);
  private_to_owner(path);
  return path;
}

void openssl_pkcs12_export(const fs::path& out, const issued& leaf, const std::vector<const issued*>& chain,
                           const std::string& alias) {
  // The key goes through a file of its own, next to the output, removed after.
  const fs::path pem = out.string() + ".pem";
  std::string text = leaf.key_pem() + leaf.cert_pem();
  for (const issued* c : chain) text += c->cert_pem();
  write_file(pem, text);
  try {
    run_or_throw({"openssl", "pkcs12", "-export", "-in", pem.string(), "-name", alias, "-out", out.string(), "-passout",
                  std::string("pass:") + java_stores::password});
  } catch (...) {
    fs::remove(pem);
    throw;
  }
  fs::remove(pem);
  private_to_owner(out);
}

fs::path java_stores::openssl_p12() {
  const fs::path path = dir_ / "server-openssl.p12";
  if (!fs::exists(path)) openssl_pkcs12_export(path, server_leaf_, {&server_intermediate_}, "server");
  return path;
}

fs::path java_stores::keytool_p12() {
  const std::string source = openssl_p12().string();
  return make("server-keytool.p12",
              {{"-importkeystore", "-noprompt", "-srckeystore", source, "-srcstoretype", "PKCS12", "-srcstorepass",
                password, "-destkeystore", (dir_ / "server-keytool.p12").string(), "-deststoretype", "PKCS12",
                "-deststorepass", password}});
}

fs::path java_stores::keytool_jks() {
  const std::string source = openssl_p12().string();
  return make("server.jks", {{"-importkeystore", "-noprompt", "-srckeystore", source, "-srcstoretype", "PKCS12",
                              "-srcstorepass", password, "-destkeystore", (dir_ / "server.jks").string(),
                              "-deststoretype", "JKS", "-deststorepass", password, "-destkeypass", password}});
}

fs::path java_stores::two_keys_jks() {
  const std::string path = (dir_ / "two-keys.jks").string();
  std::vector<std::vector<std::string>> runs;
  for (const std::string alias : {"first", "second"}) {
    runs.push_back({"-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + alias,
                    "-validity", "2", "-storetype", "JKS", "-keystore", path, "-storepass", password, "-keypass",
                    password});
  }
  return make("two-keys.jks", runs);
}

fs::path java_stores::jceks() {
  return make("server.jceks", {{"-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                                "CN=localhost", "-validity", "2", "-storetype", "JCEKS", "-keystore",
                                (dir_ / "server.jceks").string(), "-storepass", password, "-keypass", password}});
}

fs::path java_stores::truststore_jks() {
  return make("truststore.jks",
              {{"-importcert", "-noprompt", "-alias", "clientca", "-file", client_ca_file().string(), "-storetype",
                "JKS", "-keystore", (dir_ / "truststore.jks").string(), "-storepass", password}});
}

fs::path java_stores::truststore_p12() {
  return make("truststore.p12",
              {{"-importcert", "-noprompt", "-alias", "clientca", "-file", client_ca_file().string(), "-storetype",
                "PKCS12", "-keystore", (dir_ / "truststore.p12").string(), "-storepass", password}});
}

fs::path java_stores::key_and_trusted_p12() {
  const fs::path path = dir_ / "key-and-trusted.p12";
  if (fs::exists(path)) return path;
  fs::copy_file(keytool_p12(), dir_ / "key-and-trusted.tmp");
  run_keytool({"-importcert", "-noprompt", "-alias", "clientca", "-file", client_ca_file().string(), "-storetype",
               "PKCS12", "-keystore", (dir_ / "key-and-trusted.tmp").string(), "-storepass", password});
  fs::rename(dir_ / "key-and-trusted.tmp", path);
  private_to_owner(path);
  return path;
}

}  // namespace mtlsd::test
