#pragma once
// What /proc says about a process: resident memory, open descriptors, the
// descriptor limit, CPU time. The load tests measure mtlsd with these before,
// during and after a spike. Owned by the load-test helper.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace mtlsd::test {

// VmRSS in KiB; nullopt when the process is gone.
std::optional<std::uint64_t> resident_kib(pid_t pid);
// Entries in /proc/<pid>/fd.
std::optional<std::size_t> open_descriptors(pid_t pid);
// The soft "Max open files" limit (RLIMIT_NOFILE) of the process.
std::optional<std::uint64_t> descriptor_limit(pid_t pid);
// utime + stime: CPU the process used so far.
std::optional<std::chrono::milliseconds> cpu_time(pid_t pid);

// Raises this process's soft RLIMIT_NOFILE to the hard limit (children
// inherit it); returns the limit in force afterwards.
std::uint64_t raise_own_descriptor_limit();

// Polls `done` (cheap /proc reads) until it holds or `timeout` passes; for
// facts that have no event to wait for, like a descriptor count settling.
bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace mtlsd::test
