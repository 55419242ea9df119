// A warm-pool member's CPU share (docs/cpu.md, "Pool members"): a pod whose Sandbox is in a
// SandboxWarmPool, and that no claim has adopted yet, starts idle-class (runtime::Limits::cpu_idle)
// so that its boot and its idling never slow a claimed sandbox, the daemon or a client; the
// sync that sees the claim's adoption (the pool label gone from the pod) makes it normal again.
#pragma once

#include "base/json_util.h"

namespace asb::node {

// Whether `pod` is a warm-pool member nobody claimed: it carries upstream's
// agents.x-k8s.io/warm-pool-sandbox label, which the controllers copy from its Sandbox and remove
// when a claim adopts it.
bool IsUnclaimedPoolMember(const Json& pod);

}  // namespace asb::node
