#include "mtlsd/tls/sni_table.hpp"

#include <algorithm>

namespace mtlsd::tls {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c); });
  return out;
}

}  // namespace

void sni_table::add(const std::vector<std::string>& names, const server_context* context) {
  if (names.empty()) default_ = context;
  for (const auto& name : names) {
    listed_.push_back(name);
    if (name.starts_with("*."))
      wildcard_.emplace(name.substr(2), context);
    else
      exact_.emplace(name, context);
  }
}

const server_context* sni_table::select(std::string_view server_name) const {
  if (server_name.empty()) return default_;
  // A trailing dot is the same host name in absolute form.
  if (server_name.back() == '.') server_name.remove_suffix(1);
  const std::string name = lower(server_name);
  if (auto it = exact_.find(name); it != exact_.end()) return it->second;
  if (const auto dot = name.find('.'); dot != std::string::npos && dot > 0) {
    if (auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) return it->second;
  }
  return default_;
}

std::string sni_table::served_names() const {
  std::string text;
  for (const auto& name : listed_) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace mtlsd::tls
