// Host-side pieces of a gVisor sandbox that runsc does not make itself: the per-sandbox network
// namespace (only `lo`, persisted by a bind mount of its nsfs file, as `ip netns` does), the
// disk-backed overlayfs writable root, and dialing a port inside the namespace.
//
// Syscalls: unshare(CLONE_NEWNET) and setns on short-lived threads (a thread's network namespace
// is its own, so the daemon's other threads never change namespace), ioctl(SIOCSIFFLAGS),
// mount/umount2, socket/connect.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::runtime::runsc {

// Creates a network namespace containing only loopback (up) and bind-mounts it onto `path`
// (an empty file is created). Errors: kInternal / errno-mapped codes naming the step.
[[nodiscard]] Status CreatePersistentNetns(const std::string& path);

// Unmounts and unlinks a file made by CreatePersistentNetns. OK if missing. Idempotent.
[[nodiscard]] Status RemovePersistentNetns(const std::string& path);

// Opens a TCP connection to 127.0.0.1:port inside the namespace persisted at `netns_path`.
// The returned socket lives in that namespace. Errors: kNotFound (no namespace file),
// kUnavailable (connection refused / nothing listening), others errno-mapped.
[[nodiscard]] Result<UniqueFd> DialInNetns(const std::string& netns_path, uint16_t port);

// RAII for one mount point: the destructor lazily unmounts (MNT_DETACH) unless Release()d, so a
// failed Start leaves no mount behind.
class ScopedMount {
 public:
  ScopedMount() = default;
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  ScopedMount(ScopedMount&& o) noexcept : target_(std::exchange(o.target_, {})) {}
  ScopedMount& operator=(ScopedMount&& o) noexcept;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ~ScopedMount();
  void Release() { target_.clear(); }

 private:
  std::string target_;
};

// Mounts the block device `device` (file system `fstype`, mount data `data`; nosuid, nodev) at
// `target`.
[[nodiscard]] Result<ScopedMount> MountBlockDevice(const std::string& device,
                                                   const std::string& fstype,
                                                   const std::string& data,
                                                   const std::string& target);
// Mounts overlayfs lower=`lower`, upper/work dirs on `target`. Paths must not contain ',' or ':'
// (overlayfs option syntax); kInvalidArgument if they do.
[[nodiscard]] Result<ScopedMount> MountOverlay(const std::string& lower, const std::string& upper,
                                               const std::string& work, const std::string& target);
// Lazily unmounts `target`; OK if it is not a mount point or does not exist.
[[nodiscard]] Status Unmount(const std::string& target);
// True if `path` is a mount point (its mount id differs from its parent's).
bool IsMountPoint(const std::string& path);

}  // namespace asb::runtime::runsc
