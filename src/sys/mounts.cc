#include "sys/mounts.h"

#include <sys/mount.h>

#include <cerrno>

namespace asb::sys {

ScopedMount& ScopedMount::operator=(ScopedMount&& o) noexcept {
  if (this != &o) {
    if (!target_.empty()) (void)Unmount(target_);
    target_ = std::exchange(o.target_, {});
  }
  return *this;
}

ScopedMount::~ScopedMount() {
  if (!target_.empty()) (void)Unmount(target_);
}

Result<ScopedMount> MountBlockDevice(const std::string& device, const std::string& fstype,
                                     const std::string& data, const std::string& target) {
  if (::mount(device.c_str(), target.c_str(), fstype.c_str(), MS_NOSUID | MS_NODEV,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return ErrnoUnexpected("mount " + fstype + " " + device + " on " + target);
  }
  return ScopedMount(target);
}

Result<ScopedMount> MountOverlay(const std::string& lower, const std::string& upper,
                                 const std::string& work, const std::string& target) {
  for (const std::string* p : {&lower, &upper, &work}) {
    if (p->find_first_of(",:") != std::string::npos) {
      return MakeError(Code::kInvalidArgument, "overlay path must not contain ',' or ':': " + *p);
    }
  }
  std::string data = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", target.c_str(), "overlay", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    return ErrnoUnexpected("mount overlay on " + target);
  }
  return ScopedMount(target);
}

Result<ScopedMount> MountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                                 const std::string& work, const std::string& target) {
  if (lowers.empty()) return MakeError(Code::kInvalidArgument, "overlay without a lower layer");
  if (lowers.size() == 1) return MountOverlay(lowers[0], upper, work, target);
  std::string joined;
  for (const std::string& l : lowers) {
    if (l.find_first_of(",:") != std::string::npos) {
      return MakeError(Code::kInvalidArgument, "overlay path must not contain ',' or ':': " + l);
    }
    joined += (joined.empty() ? "" : ":") + l;
  }
  if (joined.size() + upper.size() + work.size() + 64 >= 4096) {
    return MakeError(Code::kInvalidArgument, "overlay of " + std::to_string(lowers.size()) +
                                                 " layers: the mount options are over a page");
  }
  // The single-lower path's checks cover upper and work; lowerdir is the joined list.
  for (const std::string* p : {&upper, &work}) {
    if (p->find_first_of(",:") != std::string::npos) {
      return MakeError(Code::kInvalidArgument, "overlay path must not contain ',' or ':': " + *p);
    }
  }
  std::string data = "lowerdir=" + joined + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", target.c_str(), "overlay", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    return ErrnoUnexpected("mount overlay on " + target);
  }
  return ScopedMount(target);
}

Status Unmount(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return OkStatus();
  if (errno == EINVAL || errno == ENOENT) return OkStatus();  // not a mount point / gone
  return ErrnoUnexpected("umount " + target);
}

}  // namespace asb::sys
