#include "cmd/asbd/host_limits_setup.h"

#include <string>

#include "base/log.h"
#include "sys/host_limits.h"

namespace asb::asbd {
namespace {

// ~5 per sandbox (measured at 1,000 native: 5,066 fds), plus API and router connections.
constexpr uint64_t kOpenFiles = 1048576;

}  // namespace

void RaiseHostLimitsForSandboxes() {
  sys::RaiseReport r = sys::RaiseSysctls("/proc/sys", sys::DenseNodeSysctls());
  for (const sys::SysctlChange& c : r.raised) {
    ASB_LOG(INFO, "host limit raised for many sandboxes (hostLimits: false leaves it)", "sysctl",
            c.name, "from", c.before, "to", c.after);
  }
  for (const sys::SysctlFailure& f : r.failed) {
    ASB_LOG(WARN, "cannot raise a host limit; fewer sandboxes fit this node (docs/density.md)",
            "sysctl", f.name, "error", f.reason);
  }
  auto files = sys::RaiseOpenFilesLimit("/proc/sys", kOpenFiles);
  if (!files) {
    ASB_LOG(WARN, "cannot read the open files limit", "error", files.error().message);
  } else if (files->changed()) {
    ASB_LOG(INFO, "open files limit raised for many sandboxes", "soft_from", files->soft_before,
            "soft_to", files->soft_after, "hard_to", files->hard_after);
  }
  if (files && files->soft_after < kOpenFiles / 16) {
    ASB_LOG(WARN, "asbd's open files limit holds ~5 per sandbox; raise its hard limit", "soft",
            files->soft_after);
  }
}

}  // namespace asb::asbd
