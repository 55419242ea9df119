// The node's local volumes on disk: one directory per PersistentVolume under
// <state>/volumes/<pv-name>/ holding `image` (a sparse ext4 image of the claim's size, made with
// mkfs.ext4) and `mnt` (where the image is mounted on the host while sandboxes use it). A
// sandbox gets `mnt` as a bind mount at its volumeMount's path (runtime::BindMount), so the
// size is enforced by the file system (ENOSPC when full) and the data lives on the host disk.
//
// Mounts: the image is attached to a loop device with autoclear and mounted at `mnt`; a mount
// that exists already is reused, and an image that still has a loop device (a sandbox's mount
// namespace holding it after asbd restarted) is mounted from that device, never from a second
// one. Remove detaches `mnt` lazily and deletes the directory: a sandbox that still has the
// volume keeps its view until it stops, and the kernel frees the loop device and the (already
// unlinked) image's blocks then. Nothing here outlives the PersistentVolume object: the
// provisioner sweeps directories without one at start-up.
//
// Thread-safe (one mutex: creates and mounts are rare and short).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"

namespace asb::storage {

class LocalVolumes {
 public:
  explicit LocalVolumes(std::string state_dir, std::string mkfs_path = "/sbin/mkfs.ext4");

  // Makes <root>/<name>/image of `bytes` (rounded up to whole MiB). Idempotent for an existing
  // volume of that name. Errors: kInvalidArgument (bad name or size), kInternal (mkfs).
  [[nodiscard]] Status Create(const std::string& name, int64_t bytes);
  // Mounts the volume at <root>/<name>/mnt if it is not mounted, and returns that path.
  // Errors: kNotFound (no such volume), kUnavailable (no loop devices), kInternal.
  [[nodiscard]] Result<std::string> Mount(const std::string& name);
  // Unmounts (lazily) and deletes the volume. Idempotent.
  [[nodiscard]] Status Remove(const std::string& name);

  bool Exists(const std::string& name) const;
  // Names of every volume directory.
  std::vector<std::string> List() const;
  // <state>/volumes
  const std::string& root() const { return root_; }
  std::string MountPath(const std::string& name) const { return root_ + "/" + name + "/mnt"; }
  std::string ImagePath(const std::string& name) const { return root_ + "/" + name + "/image"; }

 private:
  const std::string root_;
  const std::string mkfs_path_;
  mutable std::mutex mu_;
};

// Whether `path` is a mount point in this process's mount namespace (/proc/self/mountinfo).
bool IsMountPoint(const std::string& path);

}  // namespace asb::storage
