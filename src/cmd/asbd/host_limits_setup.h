// At a real node's start (not --simulate, not `hostLimits: false`): raise the host settings a
// node of thousands of sandboxes needs (sys/host_limits.h, docs/density.md), one log line per
// change, one warning naming each setting it could not raise and what that limits.
#pragma once

namespace asb::asbd {

void RaiseHostLimitsForSandboxes();

}  // namespace asb::asbd
