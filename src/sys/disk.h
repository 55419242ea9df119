// Block-device primitives for disk-backed writable layers: loop devices (LOOP_CTL_GET_FREE +
// LOOP_CONFIGURE), sparse file copies (SEEK_DATA/SEEK_HOLE + copy_file_range), ext4 images
// made by mkfs.ext4 (e2fsprogs) and detached mounts (the new mount API: a file system mounted
// in no namespace, held by an fd, attached later where it is needed).
//
// Syscalls: open(/dev/loop-control), ioctl(LOOP_CTL_GET_FREE, LOOP_CONFIGURE), lseek,
// copy_file_range, posix_spawn (mkfs.ext4), fsopen, fsconfig, fsmount, move_mount.
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

// The same into an open, empty file `dst_fd` (e.g. an O_TMPFILE one): it gets `src`'s size and
// data extents. `src_name` is for error messages.
[[nodiscard]] Status SparseCopyFd(int src_fd, int dst_fd, const std::string& src_name);

// Mounts `source` as `fstype` in no mount namespace (fsopen + fsconfig + fsmount) and returns
// the mount's fd (O_PATH, O_CLOEXEC). `options` is a mount(2)-style comma-separated list
// ("noinit_itable,nobarrier", "key=value"); `attrs` are MOUNT_ATTR_* flags. The fd is the only
// reference: closing it unmounts (and, for a loop device with autoclear, frees the device),
// unless MoveMount attached it somewhere first, after which that mount namespace holds it too and
// the file system lives until both are gone. Whoever drops the last reference pays for the
// unmount (writeback, the loop detach, freeing the image), so a caller can choose where that
// cost lands. Errors carry the kernel's fs-context message when it gave one.
[[nodiscard]] Result<UniqueFd> MountDetached(const std::string& source, const std::string& fstype,
                                             const std::string& options, unsigned attrs);

// Attaches the detached mount `mount_fd` (from MountDetached, possibly made by another process)
// at `target` in the caller's mount namespace (move_mount with MOVE_MOUNT_F_EMPTY_PATH).
[[nodiscard]] Status MoveMount(int mount_fd, const std::string& target);

// Creates a sparse file of `size_bytes` at `path` (replacing it) holding an empty ext4 file
// system without a journal (the layer is scratch space: it never outlives its sandbox) and
// without reserved blocks, so the sandbox can use every block. Runs `mkfs_path`.
[[nodiscard]] Status MakeExt4Image(const std::string& path, int64_t size_bytes,
                                   const std::string& mkfs_path = "/sbin/mkfs.ext4");

// A persistent volume's file system: like MakeExt4Image but with a journal (the data must
// survive a crash of the host or of asbd), still sparse (lazy inode table and journal init).
[[nodiscard]] Status MakeExt4Volume(const std::string& path, int64_t size_bytes,
                                    const std::string& mkfs_path = "/sbin/mkfs.ext4");

// The loop device ("/dev/loopN") whose backing file is `backing_file`, or "" when none is
// (sysfs /sys/block/loop*/loop/backing_file). A second loop device over the same image would
// give a second, independent ext4 mount of it, which corrupts it; mounting the same device twice
// shares one superblock, which is safe.
std::string FindLoopDevice(const std::string& backing_file);

}  // namespace asb::sys
