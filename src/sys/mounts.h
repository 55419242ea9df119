// Host-side mounts a runtime makes for a sandbox (the gVisor backend's writable root: an ext4
// scratch device and an overlay over the image), with an RAII owner so a failed start leaves no
// mount behind. The native backend mounts inside the sandbox's own mount namespace instead
// (init/, async-signal-safe), so none of this runs there.
//
// Syscalls: mount, umount2(MNT_DETACH | UMOUNT_NOFOLLOW).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace asb::sys {

// Owns one mount point: the destructor lazily unmounts it (MNT_DETACH) unless Release()d.
class ScopedMount {
 public:
  ScopedMount() = default;
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  ScopedMount(ScopedMount&& o) noexcept : target_(std::exchange(o.target_, {})) {}
  ScopedMount& operator=(ScopedMount&& o) noexcept;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ~ScopedMount();
  // Keeps the mount: from here on the caller's teardown unmounts it (Unmount).
  void Release() { target_.clear(); }

 private:
  std::string target_;
};

// Mounts the block device `device` (file system `fstype`, mount data `data`; nosuid, nodev) at
// `target`. Errors are errno-mapped and name the mount.
[[nodiscard]] Result<ScopedMount> MountBlockDevice(const std::string& device,
                                                   const std::string& fstype,
                                                   const std::string& data,
                                                   const std::string& target);
// Mounts overlayfs lower=`lower`, upper=`upper`, work=`work` at `target` (nosuid, nodev). Paths
// must not contain ',' or ':' (overlayfs option syntax): kInvalidArgument if one does.
[[nodiscard]] Result<ScopedMount> MountOverlay(const std::string& lower, const std::string& upper,
                                               const std::string& work, const std::string& target);
// The same over several lower layers, uppermost first. kInvalidArgument when the options would
// be longer than the kernel takes (one page).
[[nodiscard]] Result<ScopedMount> MountOverlay(const std::vector<std::string>& lowers,
                                               const std::string& upper, const std::string& work,
                                               const std::string& target);
// Lazily unmounts `target`; OK if it is not a mount point or does not exist. Never follows a
// symlink at `target`.
[[nodiscard]] Status Unmount(const std::string& target);

}  // namespace asb::sys
