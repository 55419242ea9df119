#include "storage/local_volumes.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>

#include "base/file_util.h"
#include "base/k8s_names.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "sys/disk.h"

namespace asb::storage {

namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
// ext4 with a journal needs a few MiB of its own.
constexpr int64_t kMinVolumeBytes = 16 * kMiB;

Status CheckName(const std::string& name) {
  if (!Dns1123SubdomainErrors(name).empty() || name.find('/') != std::string::npos)
    return MakeError(Code::kInvalidArgument, "bad volume name \"" + name + "\"");
  return OkStatus();
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        if (s[i + k] < '0' || s[i + k] > '7') {
          ok = false;
          break;
        }
        v = v * 8 + (s[i + k] - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

bool IsMountPoint(const std::string& path) {
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info) return false;
  for (const std::string& line : Split(*info, '\n')) {
    std::vector<std::string> f = Split(line, ' ');
    if (f.size() > 4 && Unescape(f[4]) == path) return true;
  }
  return false;
}

LocalVolumes::LocalVolumes(std::string state_dir, std::string mkfs_path)
    : root_(std::move(state_dir) + "/volumes"), mkfs_path_(std::move(mkfs_path)) {}

Status LocalVolumes::Create(const std::string& name, int64_t bytes) {
  ASB_RETURN_IF_ERROR(CheckName(name));
  if (bytes <= 0) return MakeError(Code::kInvalidArgument, "volume size must be positive");
  bytes = std::max(kMinVolumeBytes, (bytes + kMiB - 1) / kMiB * kMiB);
  std::lock_guard l(mu_);
  const std::string dir = root_ + "/" + name;
  if (PathExists(dir + "/image")) return OkStatus();
  ASB_RETURN_IF_ERROR(MakeDirs(dir + "/mnt", 0700));
  // Made under a temporary name: a crash mid-mkfs never leaves a half-made `image`.
  const std::string tmp = dir + "/image.tmp";
  ASB_RETURN_IF_ERROR(sys::MakeExt4Volume(tmp, bytes, mkfs_path_));
  if (::rename(tmp.c_str(), (dir + "/image").c_str()) != 0) return ErrnoUnexpected("rename image");
  return OkStatus();
}

Result<std::string> LocalVolumes::Mount(const std::string& name) {
  ASB_RETURN_IF_ERROR(CheckName(name));
  std::lock_guard l(mu_);
  const std::string mnt = MountPath(name);
  const std::string image = ImagePath(name);
  if (!PathExists(image)) return MakeError(Code::kNotFound, "no local volume " + name);
  if (IsMountPoint(mnt)) return mnt;
  std::string device = sys::FindLoopDevice(image);
  sys::LoopDevice loop;  // held until the mount exists (autoclear frees it with the mount)
  if (device.empty()) {
    UniqueFd backing(::open(image.c_str(), O_RDWR | O_CLOEXEC));
    if (!backing) return ErrnoUnexpected("open " + image);
    ASB_ASSIGN_OR_RETURN(loop, sys::AttachLoop(backing.get()));
    device = loop.path;
  }
  ASB_ASSIGN_OR_RETURN(
      UniqueFd m, sys::MountDetached(device, "ext4", "", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  ASB_RETURN_IF_ERROR(sys::MoveMount(m.get(), mnt));
  return mnt;
}

Status LocalVolumes::Remove(const std::string& name) {
  ASB_RETURN_IF_ERROR(CheckName(name));
  std::lock_guard l(mu_);
  const std::string dir = root_ + "/" + name;
  const std::string mnt = dir + "/mnt";
  // A mount can be stacked (two Mount calls racing another process): detach until none is left.
  for (int i = 0; i < 16 && IsMountPoint(mnt); ++i) {
    if (::umount2(mnt.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      return ErrnoUnexpected("unmount " + mnt);
  }
  if (!PathExists(dir)) return OkStatus();
  return RemoveTree(dir);
}

bool LocalVolumes::Exists(const std::string& name) const {
  return PathExists(root_ + "/" + name + "/image");
}

std::vector<std::string> LocalVolumes::List() const {
  auto dirs = ListSubdirs(root_);
  return dirs ? *dirs : std::vector<std::string>{};
}

}  // namespace asb::storage
