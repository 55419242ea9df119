// The writable layer of every sandbox, on both runtimes: an ext4 file system in a sparse image
// on a loop device, sized by `ephemeral-storage`. Writes past the size fail with ENOSPC inside
// the sandbox; the data lives on the host disk (the sparse image grows up to the size, never
// past it), not in memory, so disk and memory are separate budgets as in Kubernetes.
//
// Two ways to get a layer: Create (a loop device, mounted by the caller: runsc) and
// CreateDetached (already mounted in no namespace, attached by the sandbox's init: native, via
// runtime/layer_pool.h, which makes them ahead of time). Cost per sandbox: one empty ext4 image per
// distinct size is made once with mkfs.ext4 (a template, ~30 ms) under <template_dir>; each sandbox
// gets a sparse copy of it (~650 KiB of metadata for 1 GiB), a loop device and an ext4 mount. The
// image file is unlinked as soon as the loop device holds it, and the device is attached with
// autoclear, so the kernel frees both when the last mount of the file system goes away: a crashed
// daemon or a sandbox whose mount namespace died leaves no file, loop device or disk space behind.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "base/result.h"
#include "sys/disk.h"

namespace asb::runtime {

// Smallest layer: ext4 needs some room for its own metadata (sizes below are raised to this).
inline constexpr int64_t kMinScratchBytes = int64_t{8} << 20;
// mount(2) data for the layer's ext4. noinit_itable: never zero the (hole) inode tables in the
// background. nobarrier: no cache flushes of the host disk for the layer's superblock writes at
// mount and unmount or for a sandbox's fsync(2): the image is unlinked scratch space that no
// crash can ever bring back, so durability buys nothing (as on the tmpfs layer it replaced).
inline constexpr char kScratchMountData[] = "noinit_itable,nobarrier";

// A writable layer mounted in no namespace yet (sys::MountDetached): `mount` is the only
// reference until the sandbox's init attaches it with sys::MoveMount.
struct ScratchLayer {
  UniqueFd mount;
  std::string device;  // "/dev/loopN" (what the sandbox's mountinfo shows)
  int64_t bytes = 0;   // RoundedSize of the request
};

class ScratchDisks {
 public:
  explicit ScratchDisks(std::string template_dir) : template_dir_(std::move(template_dir)) {}

  // Makes an empty ext4 of `bytes` (rounded up to whole MiB, at least kMinScratchBytes) at the
  // unused path `image_path`, attaches it to a loop device and unlinks it. Mount the returned
  // device (ext4, kScratchMountData), then close its fd.
  [[nodiscard]] Result<sys::LoopDevice> Create(const std::string& image_path, int64_t bytes);

  // The same layer as Create, mounted detached (nosuid, nodev, kScratchMountData) instead of
  // returned as a device: the image is an O_TMPFILE in <template_dir>, so it never has a name
  // and a crash at any point leaves no file behind. A directory is made and removed in it
  // before it is returned, so the reads of the block and inode bitmaps that the first mkdir
  // needs are done here, not in the sandbox's setup. Costs ~10-25 ms of mostly disk waits
  // (the copy, the loop device's switch to direct I/O, which syncs the image, and the mount's
  // superblock reads): LayerPool makes these off the start path.
  [[nodiscard]] Result<ScratchLayer> CreateDetached(int64_t bytes);

  // The size Create uses for a request of `bytes`.
  static int64_t RoundedSize(int64_t bytes);

 private:
  // The template image for `bytes`, made on first use.
  [[nodiscard]] Result<std::string> Template(int64_t bytes);

  const std::string template_dir_;
  std::mutex mu_;  // serializes template creation
};

}  // namespace asb::runtime
