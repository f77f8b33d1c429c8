#include "proc_status.hpp"

#include <fstream>
#include <sstream>

namespace mtlsd::test {

std::optional<std::uint64_t> proc_status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string prefix = field + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream values(line.substr(prefix.size()));
    std::uint64_t kib = 0;
    if (values >> kib) return kib;
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> tcp_buffer_sysctl(const std::string& name, int index) {
  std::ifstream in("/proc/sys/net/ipv4/" + name);
  std::uint64_t values[3] = {0, 0, 0};
  if (!(in >> values[0] >> values[1] >> values[2]) || index < 0 || index > 2) return std::nullopt;
  return values[index];
}

}  // namespace mtlsd::test
