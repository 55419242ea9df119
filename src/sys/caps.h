// Capability dropping for the sandbox init. Every function returns 0 or an errno and is
// async-signal-safe (no allocation), so it can run in a freshly forked child.
//
// Syscalls: prctl(PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_SET_KEEPCAPS), capset.
#pragma once

namespace asb::sys {

// Empties the bounding and ambient sets. Needs CAP_SETPCAP (so call before switching to a
// non-root uid).
int DropBoundingAndAmbientCaps();
// Clears the effective, permitted and inheritable sets of the calling thread.
int ClearCapSets();

}  // namespace asb::sys
