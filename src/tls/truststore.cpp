#include "mtlsd/tls/truststore.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <system_error>

namespace mtlsd::tls {

std::vector<ossl::x509_ptr> read_pem_certificates(const std::filesystem::path& file, std::string& error) {
  std::vector<ossl::x509_ptr> certs;
  ERR_clear_error();
  ossl::bio_ptr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    error = "cannot open " + file.string() + ": " + ossl::drain_errors();
    return certs;
  }
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  // Running out of PEM blocks ends the loop with "no start line"; anything else is a real parse error.
  const unsigned long last = ERR_peek_last_error();
  if (last && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    error = "cannot parse " + file.string() + ": " + ossl::drain_errors();
    certs.clear();
  } else if (certs.empty()) {
    error = file.string() + " holds no PEM certificate";
  }
  ERR_clear_error();
  return certs;
}

truststore_load load_truststore(const std::filesystem::path& path) {
  truststore_load result;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (entry.is_regular_file(ec) && entry.path().filename().string().front() != '.') files.push_back(entry.path());
    }
    if (ec) result.errors.push_back("cannot list " + path.string() + ": " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty() && result.errors.empty()) result.errors.push_back("directory " + path.string() + " holds no files");
  } else {
    files.push_back(path);
  }
  for (const auto& file : files) {
    std::string error;
    auto certs = read_pem_certificates(file, error);
    if (!error.empty()) {
      result.errors.push_back(std::move(error));
      continue;
    }
    for (auto& c : certs) result.certificates.push_back(std::move(c));
  }
  return result;
}

}  // namespace mtlsd::tls
