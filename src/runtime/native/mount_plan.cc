#include "runtime/native/mount_plan.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include "base/strings.h"
#include "runtime/scratch_disk.h"

namespace asb::runtime::native {
namespace {

// An absolute sandbox path without "..", "." or empty components; returns "" when bad.
std::string CleanSandboxPath(const std::string& p) {
  if (p.empty() || p[0] != '/') return "";
  std::string out;
  for (const std::string& part : Split(p, '/')) {
    if (part.empty()) continue;
    if (part == "." || part == "..") return "";
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

}  // namespace

std::string MemInfoFor(int64_t memory_bytes) {
  const std::string kb = std::to_string(memory_bytes / 1024);
  std::string out;
  auto line = [&](const char* key, const std::string& v) {
    std::string k = std::string(key) + ":";
    k.resize(16, ' ');
    std::string val = v;
    if (val.size() < 8) val.insert(0, 8 - val.size(), ' ');
    out += k + val + " kB\n";
  };
  line("MemTotal", kb);
  line("MemFree", kb);
  line("MemAvailable", kb);
  for (const char* k : {"Buffers", "Cached", "SwapCached", "Active", "Inactive", "Shmem",
                        "SReclaimable", "SwapTotal", "SwapFree"}) {
    line(k, "0");
  }
  return out;
}

Result<std::vector<MountOp>> PlanMounts(const MountPlanInput& in) {
  using K = MountOp::Kind;
  const std::vector<std::string> lowers = in.rootfs.Layers();
  for (const std::string& lower : lowers) {
    if (lower.empty() || lower[0] != '/') {
      return MakeError(Code::kInvalidArgument, "rootfs.lower_dir must be an absolute path");
    }
  }
  // overlayfs splits lowerdir on ':' and its options on ',' (no escaping we can rely on).
  std::vector<const std::string*> paths = {&in.scratch_dir, &in.root_dir};
  for (const std::string& lower : lowers) paths.push_back(&lower);
  for (const std::string* p : paths) {
    if (p->find_first_of(",:") != std::string::npos) {
      return MakeError(Code::kInvalidArgument, "path \"" + *p + "\" contains ',' or ':'");
    }
  }
  struct stat st;
  for (const std::string& lower : lowers) {
    if (::stat(lower.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return MakeError(Code::kInvalidArgument, "rootfs.lower_dir " + lower + " is not a directory");
    }
  }
  if (in.scratch_mount_fd < 0) {
    return MakeError(Code::kInvalidArgument, "scratch_mount_fd must be an fd");
  }
  const std::string& r = in.root_dir;
  const std::string& scratch = in.scratch_dir;
  std::vector<MountOp> ops;
  // Mounted already (nosuid, nodev, kScratchMountData) by the daemon, off the start path.
  ops.push_back({.kind = K::kMoveMount, .target = scratch, .fd = in.scratch_mount_fd});
  ops.push_back({.kind = K::kMkdir, .target = scratch, .mode = 0700});
  // The upper dir's owner becomes the owner of the merged "/": the sandbox's root.
  ops.push_back({.kind = K::kMkdir,
                 .target = scratch + "/upper",
                 .mode = 0755,
                 .uid = in.root_uid,
                 .gid = in.root_gid});
  ops.push_back({.kind = K::kMkdir, .target = scratch + "/work", .mode = 0700});
  // One image layer is bound at scratch/lower; several (OCI images) at scratch/l0, l1, ...,
  // uppermost first, which also keeps the overlay's options short for many layers.
  // An OCI image's layers keep the image's own owners (a USER 1000 image owns its home): they
  // are idmapped through the sandbox's maps, so host uid N (as unpacked from the tar) is N
  // inside. The built-in image's lower dir is host-owned and stays as it is (nobody inside).
  const K lower_bind = in.rootfs.lower_dirs.empty() ? K::kMount : K::kIdmapBind;
  std::string lowerdir;
  for (size_t i = 0; i < lowers.size(); ++i) {
    std::string name = lowers.size() == 1 ? "lower" : "l" + std::to_string(i);
    ops.push_back({.kind = K::kMkdir, .target = scratch + "/" + name});
    ops.push_back({.kind = lower_bind,
                   .source = lowers[i],
                   .target = scratch + "/" + name,
                   .flags = MS_BIND});
    lowerdir += (i == 0 ? "" : ":") + name;
  }
  // Relative layer paths: what mountinfo shows inside (see mount_plan.h).
  ops.push_back({.kind = K::kChdir, .target = scratch});
  ops.push_back({.kind = K::kMount,
                 .source = "overlay",
                 .target = r,
                 .fstype = "overlay",
                 .flags = MS_NOSUID,
                 .data = "lowerdir=" + lowerdir + ",upperdir=upper,workdir=work"});

  std::string workdir = CleanSandboxPath(in.workdir.empty() ? "/" : in.workdir);
  if (workdir.empty()) {
    return MakeError(Code::kInvalidArgument, "process.cwd \"" + in.workdir + "\" is not clean");
  }
  if (workdir != "/") {
    ops.push_back(
        {.kind = K::kMkdir, .target = r + workdir, .uid = in.work_uid, .gid = in.work_gid});
  }
  ops.push_back({.kind = K::kMkdir, .target = r + "/tmp", .mode = 01777});

  for (size_t i = 0; i < in.rootfs.binds.size(); ++i) {
    const BindMount& b = in.rootfs.binds[i];
    std::string field = "rootfs.binds[" + std::to_string(i) + "]";
    std::string target = CleanSandboxPath(b.sandbox_path);
    if (target.empty() || target == "/") {
      return MakeError(Code::kInvalidArgument, field + ".sandbox_path \"" + b.sandbox_path +
                                                   "\" must be a clean absolute path, not /");
    }
    if (b.host_path.empty() || b.host_path[0] != '/' || ::stat(b.host_path.c_str(), &st) != 0) {
      return MakeError(Code::kInvalidArgument,
                       field + ".host_path \"" + b.host_path + "\" does not exist");
    }
    if (!S_ISDIR(st.st_mode)) {
      // A file's mount point needs its directory, which an image may not have (an image of one
      // binary has no /etc for its resolv.conf): made as a runtime makes it, never through a
      // symlink of the image's.
      std::string parent = target.substr(0, target.rfind('/'));
      if (!parent.empty()) ops.push_back({.kind = K::kMkdir, .target = r + parent});
    }
    ops.push_back({.kind = S_ISDIR(st.st_mode) ? K::kMkdir : K::kTouch, .target = r + target});
    ops.push_back({.kind = K::kMount,
                   .source = b.host_path,
                   .target = r + target,
                   .flags = MS_BIND | MS_REC});
    uint64_t remount = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
    if (b.read_only) remount |= MS_RDONLY;
    ops.push_back({.kind = K::kMount, .target = r + target, .flags = remount});
  }

  ops.push_back({.kind = K::kMkdir, .target = r + "/proc"});
  ops.push_back({.kind = K::kMount,
                 .source = "proc",
                 .target = r + "/proc",
                 .fstype = "proc",
                 .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC});
  if (in.memory_bytes > 0) {
    ops.push_back({.kind = K::kWrite,
                   .target = scratch + "/meminfo",
                   .data = MemInfoFor(in.memory_bytes),
                   .mode = 0444});
    ops.push_back({.kind = K::kMount,
                   .source = scratch + "/meminfo",
                   .target = r + "/proc/meminfo",
                   .flags = MS_BIND});
    ops.push_back({.kind = K::kMount,
                   .target = r + "/proc/meminfo",
                   .flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC});
  }

  const std::string dev = r + "/dev";
  ops.push_back({.kind = K::kMkdir, .target = dev});
  ops.push_back({.kind = K::kMount,
                 .source = "tmpfs",
                 .target = dev,
                 .fstype = "tmpfs",
                 .flags = MS_NOSUID | MS_NOEXEC,
                 .data = "mode=0755,size=65536"});
  for (const char* d : kSandboxDevices) {
    ops.push_back({.kind = K::kTouch, .target = dev + "/" + d});
    ops.push_back({.kind = K::kMount,
                   .source = std::string("/dev/") + d,
                   .target = dev + "/" + d,
                   .flags = MS_BIND});
  }
  ops.push_back({.kind = K::kMkdir, .target = dev + "/pts"});
  ops.push_back({.kind = K::kMount,
                 .source = "devpts",
                 .target = dev + "/pts",
                 .fstype = "devpts",
                 .flags = MS_NOSUID | MS_NOEXEC,
                 .data = "newinstance,ptmxmode=0666,mode=0620"});
  ops.push_back({.kind = K::kSymlink, .source = "pts/ptmx", .target = dev + "/ptmx"});
  ops.push_back({.kind = K::kMkdir, .target = dev + "/shm"});
  ops.push_back({.kind = K::kMount,
                 .source = "shm",
                 .target = dev + "/shm",
                 .fstype = "tmpfs",
                 .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 .data = "mode=1777,size=67108864"});
  ops.push_back({.kind = K::kSymlink, .source = "/proc/self/fd", .target = dev + "/fd"});
  ops.push_back({.kind = K::kSymlink, .source = "/proc/self/fd/0", .target = dev + "/stdin"});
  ops.push_back({.kind = K::kSymlink, .source = "/proc/self/fd/1", .target = dev + "/stdout"});
  ops.push_back({.kind = K::kSymlink, .source = "/proc/self/fd/2", .target = dev + "/stderr"});
  return ops;
}

}  // namespace asb::runtime::native
