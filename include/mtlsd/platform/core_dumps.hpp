#pragma once
// Whether a crash of mtlsd may leave a core file. A core dump holds the
// process's memory — decrypted private keys, session ticket keys, key
// passwords — and is written wherever the host's core_pattern says, readable
// by whoever reads crash reports there. Owned by the platform module.

namespace mtlsd::platform {

// false: marks the process not dumpable (prctl PR_SET_DUMPABLE 0, which
// also keeps other processes of the same user from attaching a debugger or
// reading /proc/<pid>/mem) and sets the soft core size limit to 0. true:
// dumpable again, with the core size limit the process started with.
// Changing the user or group resets the dumpable flag, so this is applied
// again after privileges are dropped.
void set_core_dumps(bool allowed);

}  // namespace mtlsd::platform
