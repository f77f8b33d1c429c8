#include "cli/file_fingerprint.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <memory>

namespace mtlsd::cli {
namespace fs = std::filesystem;

namespace {

void add(EVP_MD_CTX* md, std::string_view text) {
  EVP_DigestUpdate(md, text.data(), text.size());
  EVP_DigestUpdate(md, "\0", 1);  // separates fields so no two inputs concatenate alike
}

void add_file(EVP_MD_CTX* md, const fs::path& path) {
  add(md, path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    add(md, "<unreadable>");
    return;
  }
  char buffer[16384];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
    EVP_DigestUpdate(md, buffer, static_cast<std::size_t>(in.gcount()));
  add(md, "");
}

}  // namespace

std::string fingerprint(const std::vector<fs::path>& files) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  for (const auto& file : files) {
    std::error_code ec;
    if (fs::is_directory(file, ec)) {
      std::vector<fs::path> entries;
      for (const auto& entry : fs::directory_iterator(file, ec))
        if (entry.is_regular_file(ec)) entries.push_back(entry.path());
      std::sort(entries.begin(), entries.end());
      add(md.get(), file.string());
      for (const auto& entry : entries) add_file(md.get(), entry);
    } else {
      add_file(md.get(), file);
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(md.get(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace mtlsd::cli
