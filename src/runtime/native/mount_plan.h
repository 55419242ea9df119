// The sandbox's filesystem as data: a list of MountOps that asb-init applies in order inside the
// sandbox's fresh mount namespace, before pivot_root into `root_dir` (plan, then apply; the small
// executor is in init/). Paths in ops are host paths as seen in that mount namespace before
// pivot_root.
//
// What the sandbox can see of the host: the overlay root is mounted with paths relative to the
// scratch dir (lowerdir=lower,...; the image dir is bind-mounted at scratch/lower first), so its
// /proc/self/mountinfo names neither the state dir nor the sandbox id (the pod uid); the writable
// layer shows as /dev/loopN. With a memory limit, a generated /proc/meminfo is bound over the
// real one: MemTotal/MemFree/MemAvailable are the limit and swap is 0. It is a static file, so
// usage does not move; LXCFS would compute live figures from the cgroup with a FUSE daemon per
// host, which we do not run. Bind mounts of host files (built-in images' /usr, ...) still show
// their source path within its file system, as under any container runtime.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "runtime/runtime.h"

namespace asb::runtime::native {

struct MountOp {
  enum class Kind {
    kMount,      // mount(source, target, fstype, flags, data)
    kMkdir,      // mkdir -p target; then chmod `mode` if set; then chown uid/gid if >= 0
    kTouch,      // create an empty regular file (bind-mount target)
    kSymlink,    // symlink(source, target)
    kChdir,      // chdir(target): later mounts may name paths relative to it
    kWrite,      // create regular file `target` holding `data`, then chmod `mode`
    kMoveMount,  // attach the detached mount inherited as `fd` at `target`, then close `fd`
    // bind `source` at `target` as an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP) through
    // the sandbox's own uid/gid maps: files owned by N on the host show as N inside
    kIdmapBind,
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
  int fd = -1;  // kMoveMount: the inherited fd (init_spec.h kInitLayerFd)

  bool operator==(const MountOp&) const = default;
};

struct MountPlanInput {
  std::string root_dir;     // empty host dir: the overlay root is mounted here
  std::string scratch_dir;  // empty host dir: the writable layer (upper, work, lower mount point)
  RootFs rootfs;
  // The fd (in asb-init) of the writable layer: a detached ext4 mount sized by ephemeral-storage
  // (runtime/scratch_disk.h ScratchLayer), attached at scratch_dir.
  int scratch_mount_fd = -1;
  // > 0: /proc/meminfo inside shows this as the machine's memory instead of the host's.
  int64_t memory_bytes = 0;
  uint32_t root_uid = 0;  // host uid/gid of the sandbox's root (owns "/")
  uint32_t root_gid = 0;
  uint32_t work_uid = 0;  // host uid/gid of the sandbox process (owns its working dir)
  uint32_t work_gid = 0;
  std::string workdir = "/";  // created if missing and owned by the process
};

// Errors: kInvalidArgument naming the bad field (relative paths, "..", characters overlayfs
// cannot take in lowerdir, a missing lower dir or bind source).
[[nodiscard]] Result<std::vector<MountOp>> PlanMounts(const MountPlanInput& in);

// The generated /proc/meminfo for a memory limit (see the header comment).
std::string MemInfoFor(int64_t memory_bytes);

// Host devices bind-mounted into the sandbox's /dev.
inline constexpr const char* kSandboxDevices[] = {"null",   "zero",    "full",
                                                  "random", "urandom", "tty"};

}  // namespace asb::runtime::native
