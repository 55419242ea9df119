#include "sys/disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/file_util.h"
#include "base/strings.h"
#include "sys/process.h"

namespace asb::sys {

Result<LoopDevice> AttachLoop(int backing_fd) {
  UniqueFd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!ctl) {
    Error e = ErrnoError(errno, "open /dev/loop-control");
    e.code = Code::kUnavailable;
    return tl::unexpected(e);
  }
  // GET_FREE only names a device that was free a moment ago: another process (losetup, a
  // second asbd) can configure it first, which LOOP_CONFIGURE answers with EBUSY.
  for (int attempt = 0; attempt < 32; ++attempt) {
    int n = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return ErrnoUnexpected("LOOP_CTL_GET_FREE");
    LoopDevice dev;
    dev.path = "/dev/loop" + std::to_string(n);
    dev.fd = UniqueFd(::open(dev.path.c_str(), O_RDWR | O_CLOEXEC));
    if (!dev.fd) {
      if (errno == ENOENT) continue;  // the node appears asynchronously on some hosts
      return ErrnoUnexpected("open " + dev.path);
    }
    loop_config cfg{};
    cfg.fd = static_cast<__u32>(backing_fd);
    cfg.block_size = 4096;
    // Direct I/O keeps the image's pages out of the host page cache (the file system on top
    // caches them once already); AUTOCLEAR: see disk.h.
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    int rc = ::ioctl(dev.fd.get(), LOOP_CONFIGURE, &cfg);
    if (rc != 0 && errno == EINVAL) {
      cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;  // backing file system without O_DIRECT
      cfg.block_size = 0;
      rc = ::ioctl(dev.fd.get(), LOOP_CONFIGURE, &cfg);
    }
    if (rc == 0) return dev;
    if (errno != EBUSY) return ErrnoUnexpected("LOOP_CONFIGURE " + dev.path);
  }
  return MakeError(Code::kUnavailable, "no free loop device after 32 attempts");
}

Status SparseCopyFile(const std::string& src, const std::string& dst) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return ErrnoUnexpected("open " + src);
  UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out) return ErrnoUnexpected("create " + dst);
  Status s = SparseCopyFd(in.get(), out.get(), src);
  if (!s) ::unlink(dst.c_str());
  return s;
}

Status SparseCopyFd(int src_fd, int dst_fd, const std::string& src_name) {
  struct stat st;
  if (::fstat(src_fd, &st) != 0) return ErrnoUnexpected("stat " + src_name);
  if (::ftruncate(dst_fd, st.st_size) != 0) return ErrnoUnexpected("truncate copy of " + src_name);
  off_t pos = 0;
  while (pos < st.st_size) {
    off_t data = ::lseek(src_fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      return ErrnoUnexpected("SEEK_DATA " + src_name);
    }
    off_t hole = ::lseek(src_fd, data, SEEK_HOLE);
    if (hole < 0) return ErrnoUnexpected("SEEK_HOLE " + src_name);
    off_t in_off = data, out_off = data;
    while (in_off < hole) {
      ssize_t n = ::copy_file_range(src_fd, &in_off, dst_fd, &out_off,
                                    static_cast<size_t>(hole - in_off), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoUnexpected("copy_file_range " + src_name);
    }
    pos = hole;
  }
  return OkStatus();
}

Result<UniqueFd> MountDetached(const std::string& source, const std::string& fstype,
                               const std::string& options, unsigned attrs) {
  UniqueFd fs(::fsopen(fstype.c_str(), FSOPEN_CLOEXEC));
  if (!fs) return ErrnoUnexpected("fsopen " + fstype);
  // The kernel explains a refused configuration in the context's log ("e ext4: ..."): one line
  // of it makes "mount failed: EINVAL" actionable.
  auto fail = [&](const std::string& what) -> Error {
    Error e = ErrnoError(errno, what + " (" + fstype + " on " + source + ")");
    char msg[512];
    ssize_t n = ::read(fs.get(), msg, sizeof(msg) - 1);
    if (n > 0) e.message += ": " + std::string(msg, static_cast<size_t>(n));
    return e;
  };
  if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", source.c_str(), 0) != 0) {
    return tl::unexpected(fail("fsconfig source"));
  }
  for (const std::string& opt : Split(options, ',')) {
    if (opt.empty()) continue;
    size_t eq = opt.find('=');
    int rc = eq == std::string::npos
                 ? ::fsconfig(fs.get(), FSCONFIG_SET_FLAG, opt.c_str(), nullptr, 0)
                 : ::fsconfig(fs.get(), FSCONFIG_SET_STRING, opt.substr(0, eq).c_str(),
                              opt.c_str() + eq + 1, 0);
    if (rc != 0) return tl::unexpected(fail("fsconfig " + opt));
  }
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return tl::unexpected(fail("fsconfig create"));
  }
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, attrs));
  if (!mnt) return tl::unexpected(fail("fsmount"));
  return mnt;
}

Status MoveMount(int mount_fd, const std::string& target) {
  if (::move_mount(mount_fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return ErrnoUnexpected("move_mount to " + target);
  }
  return OkStatus();
}

namespace {

// A sparse file of `size_bytes` at `path`, formatted by mkfs.ext4 with 4 KiB blocks (the loop
// device has 4 KiB sectors with direct I/O, and a block may not be smaller) and `options`. The
// file is removed when mkfs fails.
Status FormatExt4File(const std::string& path, int64_t size_bytes, const std::string& mkfs_path,
                      const std::vector<std::string>& options) {
  {
    UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!f) return ErrnoUnexpected("create " + path);
    if (::ftruncate(f.get(), size_bytes) != 0) return ErrnoUnexpected("truncate " + path);
  }
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return ErrnoUnexpected("open /dev/null");
  std::vector<std::string> argv = {"mkfs.ext4", "-q", "-F", "-b", "4096"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(path);
  SpawnOptions so{.path = mkfs_path,
                  .argv = std::move(argv),
                  .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
                  .fds = {{null.get(), 0}, {null.get(), 1}, {null.get(), 2}}};
  ASB_ASSIGN_OR_RETURN(pid_t pid, Spawn(so));
  ASB_ASSIGN_OR_RETURN(int status, WaitPid(pid));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ::unlink(path.c_str());
    return MakeError(Code::kInternal,
                     mkfs_path + " " + path + " failed (status " + std::to_string(status) + ")");
  }
  return OkStatus();
}

}  // namespace

Status MakeExt4Image(const std::string& path, int64_t size_bytes, const std::string& mkfs_path) {
  if (size_bytes <= 0) return MakeError(Code::kInvalidArgument, "image size must be positive");
  // -O ^has_journal: scratch data never needs crash recovery. -m 0: no root reserve.
  // lazy_itable_init: inode tables stay holes (the file reads back as zeros; mounts pass
  // noinit_itable so the kernel never fills them in). nodiscard: nothing to discard in a new file.
  return FormatExt4File(path, size_bytes, mkfs_path,
                        {"-O", "^has_journal", "-m", "0", "-E", "lazy_itable_init=1,nodiscard"});
}

Status MakeExt4Volume(const std::string& path, int64_t size_bytes, const std::string& mkfs_path) {
  if (size_bytes <= 0) return MakeError(Code::kInvalidArgument, "volume size must be positive");
  // -m 0: no root reserve (the claim's size is the user's). lazy_*_init: nothing is zeroed, so
  // a 4 GiB volume costs a few MiB of disk until it is written.
  return FormatExt4File(path, size_bytes, mkfs_path,
                        {"-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard"});
}

std::string FindLoopDevice(const std::string& backing_file) {
  DIR* d = ::opendir("/sys/block");
  if (!d) return "";
  std::string found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("loop", 0) != 0) continue;
    auto text = ReadFile("/sys/block/" + name + "/loop/backing_file");
    if (!text) continue;
    std::string path(Trim(*text));
    if (path == backing_file) {
      found = "/dev/" + name;
      break;
    }
  }
  ::closedir(d);
  return found;
}

}  // namespace asb::sys
