// Block-device primitives for disk-backed writable layers: loop devices (LOOP_CTL_GET_FREE +
// LOOP_CONFIGURE), sparse file copies (SEEK_DATA/SEEK_HOLE + copy_file_range) and ext4 images
// made by mkfs.ext4 (e2fsprogs).
//
// Syscalls: open(/dev/loop-control), ioctl(LOOP_CTL_GET_FREE, LOOP_CONFIGURE), lseek,
// copy_file_range, posix_spawn (mkfs.ext4).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::sys {

// An attached loop device, held open. It is attached with LO_FLAGS_AUTOCLEAR: the kernel
// detaches it once `fd` is closed and nothing has it mounted, so a filesystem mounted from it
// (in any mount namespace) keeps it alive exactly as long as that mount, and a crashed daemon
// leaves no loop device behind. Close `fd` only after the mount exists.
struct LoopDevice {
  UniqueFd fd;
  std::string path;  // "/dev/loopN"
};

// Attaches `backing_fd` (read-write) to a free loop device, retrying when another process takes
// the same free device first. Errors: kUnavailable (no loop support), kInternal.
[[nodiscard]] Result<LoopDevice> AttachLoop(int backing_fd);

// Copies `src` to a new file `dst` (O_EXCL, mode 0600) preserving holes: only the data extents
// are copied, so a sparse template of 1 GiB with 1 MiB of metadata costs 1 MiB of I/O.
[[nodiscard]] Status SparseCopyFile(const std::string& src, const std::string& dst);

// Creates a sparse file of `size_bytes` at `path` (replacing it) holding an empty ext4 file
// system without a journal (the layer is scratch space: it never outlives its sandbox) and
// without reserved blocks, so the sandbox can use every block. Runs `mkfs_path`.
[[nodiscard]] Status MakeExt4Image(const std::string& path, int64_t size_bytes,
                                   const std::string& mkfs_path = "/sbin/mkfs.ext4");

}  // namespace asb::sys
