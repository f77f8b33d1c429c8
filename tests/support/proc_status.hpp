#pragma once
// What the kernel reports about a running process (/proc/<pid>/status), for
// tests that bound a daemon's memory. Owned by the abuse/fault-test helper.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace mtlsd::test {

// A "Name:   value kB" field of /proc/<pid>/status in KiB (VmRSS, VmHWM...);
// nullopt when the process or the field does not exist.
std::optional<std::uint64_t> proc_status_kib(pid_t pid, const std::string& field);

// One of the three numbers of /proc/sys/net/ipv4/tcp_rmem or tcp_wmem
// (`index` 0 = min, 1 = default, 2 = max), in bytes; nullopt when unreadable.
std::optional<std::uint64_t> tcp_buffer_sysctl(const std::string& name, int index);

}  // namespace mtlsd::test
