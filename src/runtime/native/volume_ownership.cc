#include "runtime/native/volume_ownership.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace asb::runtime::native {

namespace {

constexpr char kXattr[] = "trusted.asb.id-base";

// nftw has no user data pointer; the walk runs under the runtime's start path, one at a time
// per thread.
thread_local uint32_t g_old_base, g_new_base, g_size;

uint32_t Shift(uint32_t id) {
  if (id >= g_old_base && id - g_old_base < g_size) return g_new_base + (id - g_old_base);
  return id;
}

int Visit(const char* path, const struct stat* st, int, struct FTW*) {
  uid_t uid = Shift(st->st_uid);
  gid_t gid = Shift(st->st_gid);
  if (uid == st->st_uid && gid == st->st_gid) return 0;
  if (::lchown(path, uid, gid) != 0) return 1;  // nftw returns 1 with errno kept
  // chown clears set-user/group-id bits on files; keep what the sandbox set.
  if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) != 0)
    (void)::chmod(path, st->st_mode & 07777);
  return 0;
}

}  // namespace

Status GiveVolumeToIds(const std::string& root, uint32_t base, uint32_t size) {
  uint32_t old_base = 0;
  char buf[32] = {};
  ssize_t n = ::getxattr(root.c_str(), kXattr, buf, sizeof(buf) - 1);
  if (n > 0) old_base = static_cast<uint32_t>(std::stoul(std::string(buf, static_cast<size_t>(n))));
  if (n > 0 && old_base == base) return OkStatus();
  g_old_base = old_base;
  g_new_base = base;
  g_size = size;
  // FTW_PHYS: never follow a symlink out of the volume; FTW_MOUNT: stay on its file system.
  if (::nftw(root.c_str(), Visit, 64, FTW_PHYS | FTW_MOUNT) != 0)
    return ErrnoUnexpected("giving volume " + root + " to the sandbox's ids");
  std::string v = std::to_string(base);
  if (::setxattr(root.c_str(), kXattr, v.data(), v.size(), 0) != 0)
    return ErrnoUnexpected("record id base on " + root);
  return OkStatus();
}

}  // namespace asb::runtime::native
