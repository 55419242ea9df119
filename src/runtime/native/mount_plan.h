// The sandbox's filesystem as data: a list of MountOps that asb-init applies in order inside the
// sandbox's fresh mount namespace, before pivot_root into `root_dir` (plan, then apply: the plan
// is unit-tested here; the small executor is in init/). Paths in ops are host paths as seen in
// that mount namespace before pivot_root.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "runtime/runtime.h"

namespace asb::runtime::native {

struct MountOp {
  enum class Kind {
    kMount,    // mount(source, target, fstype, flags, data)
    kMkdir,    // mkdir -p target; then chmod `mode` if set; then chown uid/gid if >= 0
    kTouch,    // create an empty regular file (bind-mount target)
    kSymlink,  // symlink(source, target)
  };
  Kind kind = Kind::kMount;
  std::string source;
  std::string target;
  std::string fstype;
  uint64_t flags = 0;
  std::string data;
  uint32_t mode = 0;  // 0 = leave as created
  int64_t uid = -1;
  int64_t gid = -1;

  bool operator==(const MountOp&) const = default;
};

struct MountPlanInput {
  std::string root_dir;     // empty host dir: the overlay root is mounted here
  std::string scratch_dir;  // empty host dir: a tmpfs with the overlay upper and work dirs
  RootFs rootfs;
  int64_t scratch_bytes = 0;  // tmpfs size = the ephemeral-storage cap (> 0)
  uint32_t root_uid = 0;      // host uid/gid of the sandbox's root (owns "/")
  uint32_t root_gid = 0;
  uint32_t work_uid = 0;  // host uid/gid of the sandbox process (owns its working dir)
  uint32_t work_gid = 0;
  std::string workdir = "/";  // created if missing and owned by the process
};

// Errors: kInvalidArgument naming the bad field (relative paths, "..", characters overlayfs
// cannot take in lowerdir, a missing lower dir or bind source).
[[nodiscard]] Result<std::vector<MountOp>> PlanMounts(const MountPlanInput& in);

// Host devices bind-mounted into the sandbox's /dev.
inline constexpr const char* kSandboxDevices[] = {"null",   "zero",    "full",
                                                  "random", "urandom", "tty"};

}  // namespace asb::runtime::native
