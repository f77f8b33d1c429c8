// Owner: tls module. Loading a service's keystore and store truststore
// (see service_stores.hpp).
#include "tls/service_stores.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "mtlsd/tls/secret.hpp"

namespace mtlsd::tls::detail {
namespace {

namespace fs = std::filesystem;

// Real stores are a few KiB; anything this large is the wrong file.
constexpr off_t max_store_size = 16 << 20;
constexpr off_t max_password_file_size = 64 << 10;

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads the whole of a regular file of at most `limit` bytes into `out`
// (sized once, so a secret_bytes never reallocates); "" or the reason.
template <typename Buffer>
std::string read_whole(const fs::path& file, off_t limit, Buffer& out) {
  fd_guard fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  struct stat info {};
  if (fd.get() < 0 || ::fstat(fd.get(), &info) != 0)
    return std::string("cannot read ") + file.string() + ": " + std::strerror(errno);
  if (!S_ISREG(info.st_mode)) return "not a regular file: " + file.string();
  if (info.st_size > limit) return file.string() + " is too large (" + std::to_string(info.st_size) + " bytes)";
  out = Buffer(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string("cannot read ") + file.string() + ": " + std::strerror(errno);
    if (n == 0) break;  // shrank while we read; what we have is what there is
    done += static_cast<std::size_t>(n);
  }
  if constexpr (std::is_same_v<Buffer, secret_bytes>) {
    out.shrink_to(done);
  } else {
    out.resize(done);
  }
  return {};
}

}  // namespace

std::optional<secret_bytes> read_small_file(const fs::path& file, off_t limit, std::string& error) {
  secret_bytes value;
  if (error = read_whole(file, limit, value); !error.empty()) return std::nullopt;
  return value;
}

std::optional<secret_bytes> read_password_file(const fs::path& file, std::string& error) {
  secret_bytes value;
  if (error = read_whole(file, max_password_file_size, value); !error.empty()) return std::nullopt;
  const auto text = value.text();
  if (auto eol = text.find_first_of("\r\n"); eol != std::string_view::npos) value.shrink_to(eol);
  return value;
}

namespace {

struct password {
  secret_bytes value;
  std::string key;     // the config key it came from
  std::string source;  // "keystore_password_file /etc/mtlsd/ks.pass", for messages
};

// `store` is "keystore" or "truststore"; its password comes from
// <store>_password_file (first line, as key_password_file) or
// <store>_password_env.
std::optional<password> read_password(const std::string& store, const fs::path& file, const std::string& variable,
                                      std::vector<store_problem>& problems) {
  password out;
  if (!file.empty()) {
    out.key = store + "_password_file";
    out.source = out.key + " " + file.string();
    std::string error;
    auto value = read_password_file(file, error);
    if (!value) {
      problems.push_back({out.key, error});
      return std::nullopt;
    }
    out.value = std::move(*value);
    return out;
  }
  if (!variable.empty()) {
    out.key = store + "_password_env";
    out.source = out.key + " " + variable;
    // Not removed from the environment: a reload reads it again.
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || *value == '\0') {
      problems.push_back({out.key, "environment variable " + variable +
                                       (value == nullptr ? " is not set" : " is empty") + "; it must hold the " +
                                       store + "'s password"});
      return std::nullopt;
    }
    out.value = secret_bytes(reinterpret_cast<const std::uint8_t*>(value), std::strlen(value));
    return out;
  }
  problems.push_back(
      {store, "set " + store + "_password_file or " + store + "_password_env: the " + store + "'s password"});
  return std::nullopt;
}

std::string jceks_advice(const fs::path& file) {
  fs::path target = file;
  target.replace_extension(".p12");
  // Never suggest a file that exists: keytool would add to it.
  std::error_code ec;
  if (fs::exists(target, ec)) target.replace_filename(file.stem().string() + "-converted.p12");
  return "JCEKS keystores are not supported; convert with keytool -importkeystore -srckeystore " + file.string() +
         " -srcstoretype JCEKS -destkeystore " + target.string() + " -deststoretype pkcs12";
}

// Reads and checks the store; problems go to `store_key` unless the password is at fault.
std::optional<store_contents> read_service_store(const std::string& store_key, const fs::path& file, const password& pw,
                                                 std::vector<store_problem>& problems) {
  // A keystore holds a private key (encrypted, but with a password that
  // is in this process too): its bytes are wiped after parsing.
  secret_bytes bytes;
  if (auto error = read_whole(file, max_store_size, bytes); !error.empty()) {
    problems.push_back({store_key, error});
    return std::nullopt;
  }
  const store_format format = detect_store_format(bytes.bytes());
  if (format == store_format::jceks) {
    problems.push_back({store_key, file.string() + ": " + jceks_advice(file)});
    return std::nullopt;
  }
  if (format == store_format::pem) {
    problems.push_back({store_key, file.string() + " is not a PKCS#12 or JKS keystore" +
                                       (store_key == "keystore" ? " (for PEM files use cert and key)" : "")});
    return std::nullopt;
  }
  store_read read = read_store(bytes.bytes(), pw.value.text());
  if (read.failure == store_failure::wrong_password) {
    problems.push_back({pw.key, file.string() + ": " + read.error + "; the password comes from " + pw.source});
    return std::nullopt;
  }
  if (!read.contents) {
    problems.push_back({store_key, file.string() + ": " + read.error});
    return std::nullopt;
  }
  return std::move(read.contents);
}

}  // namespace

std::optional<keystore_credentials> load_keystore(const service_config& service, std::vector<store_problem>& problems) {
  auto pw = read_password("keystore", service.keystore_password_file, service.keystore_password_env, problems);
  if (!pw) return std::nullopt;
  auto store = read_service_store("keystore", service.keystore, *pw, problems);
  if (!store) return std::nullopt;
  const std::string file = service.keystore.string();

  std::string error;
  const store_key_entry* entry = select_key_entry(*store, service.keystore_alias, error);
  if (entry == nullptr) {
    problems.push_back({service.keystore_alias.empty() ? "keystore" : "keystore_alias", file + " " + error});
    return std::nullopt;
  }
  const std::string name = entry->alias.empty() ? "the private-key entry" : "entry '" + entry->alias + "'";
  if (entry->chain.empty()) {
    problems.push_back({"keystore", file + ": " + name + " has no certificate"});
    return std::nullopt;
  }
  keystore_credentials out;
  out.key = unlock_key(store->format, *entry, pw->value.text(), error);
  if (!out.key) {
    problems.push_back({pw->key, file + ": cannot unlock the private key of " + name + ": " + error +
                                     " (mtlsd unlocks it with the store password, keytool's default; see "
                                     "docs/keystores.md to give the key the store's password)"});
    return std::nullopt;
  }
  for (const auto& cert : entry->chain) {
    X509_up_ref(cert.get());
    out.chain.emplace_back(cert.get());
  }
  out.alias = entry->alias;
  out.format = store->format;
  return out;
}

bool truststore_is_store(const service_config& service) {
  std::error_code ec;
  if (!fs::is_regular_file(service.truststore, ec)) return false;
  fd_guard fd(::open(service.truststore.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  std::uint8_t head[4] = {};
  ssize_t n = -1;
  if (fd.get() >= 0) {
    do n = ::read(fd.get(), head, sizeof head);
    while (n < 0 && errno == EINTR);
  }
  if (n <= 0) return false;  // the PEM loader reports what is wrong
  return detect_store_format(std::span<const std::uint8_t>(head, static_cast<std::size_t>(n))) != store_format::pem;
}

std::optional<store_truststore> load_store_truststore(const service_config& service,
                                                      std::vector<store_problem>& problems,
                                                      std::vector<std::string>& warnings) {
  const std::string file = service.truststore.string();
  if (service.truststore_password_file.empty() && service.truststore_password_env.empty()) {
    problems.push_back({"truststore", file + " is a keystore file (PKCS#12, JKS or JCEKS), not PEM; set "
                                             "truststore_password_file or truststore_password_env: its integrity is "
                                             "checked with the password, and Java's PKCS#12 also encrypts the "
                                             "certificates"});
    return std::nullopt;
  }
  auto pw = read_password("truststore", service.truststore_password_file, service.truststore_password_env, problems);
  if (!pw) return std::nullopt;
  auto store = read_service_store("truststore", service.truststore, *pw, problems);
  if (!store) return std::nullopt;
  if (!store->keys.empty()) {
    std::vector<std::string> aliases;
    for (const auto& key : store->keys) aliases.push_back(key.alias);
    warnings.push_back("truststore " + file + " holds private-key entries (" + list_aliases(aliases) +
                       "); only its trusted-certificate entries are used as CAs");
  }
  if (store->trusted.empty()) {
    problems.push_back({"truststore", file + " holds no trusted-certificate entries"});
    return std::nullopt;
  }
  store_truststore out;
  out.format = store->format;
  for (auto& entry : store->trusted) out.certificates.push_back(std::move(entry.certificate));
  return out;
}

}  // namespace mtlsd::tls::detail
