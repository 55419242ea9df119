#include "runtime/scratch_disk.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/strings.h"

namespace asb::runtime {

int64_t ScratchDisks::RoundedSize(int64_t bytes) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  bytes = std::max(bytes, kMinScratchBytes);
  return (bytes + kMiB - 1) / kMiB * kMiB;
}

Result<std::string> ScratchDisks::Template(int64_t bytes) {
  const std::string path = template_dir_ + "/ext4-" + std::to_string(bytes) + ".img";
  std::lock_guard l(mu_);
  if (PathExists(path)) return path;
  ASB_RETURN_IF_ERROR(MakeDirs(template_dir_, 0700));
  // Made under a temporary name and renamed, so another process never copies a half-made one.
  const std::string tmp = path + ".tmp-" + RandomHex(4);
  if (Status s = sys::MakeExt4Image(tmp, bytes); !s) {
    return tl::unexpected(s.error().Wrap("ephemeral storage template"));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = ErrnoError(errno, "rename " + tmp);
    ::unlink(tmp.c_str());
    return tl::unexpected(e);
  }
  return path;
}

Result<sys::LoopDevice> ScratchDisks::Create(const std::string& image_path, int64_t bytes) {
  ASB_ASSIGN_OR_RETURN(std::string tmpl, Template(RoundedSize(bytes)));
  ASB_RETURN_IF_ERROR(sys::SparseCopyFile(tmpl, image_path));
  UniqueFd backing(::open(image_path.c_str(), O_RDWR | O_CLOEXEC));
  Error open_error = ErrnoError(errno, "open " + image_path);
  // Unlinked whatever happens next: from here on the open fd (then the loop device) owns it.
  ::unlink(image_path.c_str());
  if (!backing) return tl::unexpected(open_error);
  auto dev = sys::AttachLoop(backing.get());
  if (!dev) return tl::unexpected(dev.error().Wrap("ephemeral storage loop device"));
  return dev;
}

Result<ScratchLayer> ScratchDisks::CreateDetached(int64_t bytes) {
  ScratchLayer layer;
  layer.bytes = RoundedSize(bytes);
  ASB_ASSIGN_OR_RETURN(std::string tmpl, Template(layer.bytes));
  UniqueFd in(::open(tmpl.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return ErrnoUnexpected("open " + tmpl);
  UniqueFd image(::open(template_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!image && errno == EOPNOTSUPP) {
    // A state dir on a file system without O_TMPFILE: a name for a moment, as in Create.
    const std::string path = template_dir_ + "/layer-" + RandomHex(8) + ".img";
    image.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (image) ::unlink(path.c_str());
  }
  if (!image) return ErrnoUnexpected("create a layer image in " + template_dir_);
  ASB_RETURN_IF_ERROR(sys::SparseCopyFd(in.get(), image.get(), tmpl));
  in.Reset();
  auto dev = sys::AttachLoop(image.get());
  if (!dev) return tl::unexpected(dev.error().Wrap("ephemeral storage loop device"));
  image.Reset();  // the loop device holds the image now
  layer.device = dev->path;
  auto mnt = sys::MountDetached(dev->path, "ext4", kScratchMountData,
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  // dev->fd closes on return: from here on the mount alone keeps the device (autoclear).
  if (!mnt) return tl::unexpected(mnt.error().Wrap("ephemeral storage mount"));
  layer.mount = std::move(*mnt);
  constexpr char kWarm[] = ".asb-warm";
  if (::mkdirat(layer.mount.get(), kWarm, 0700) != 0 ||
      ::unlinkat(layer.mount.get(), kWarm, AT_REMOVEDIR) != 0) {
    return ErrnoUnexpected("warm up " + layer.device);
  }
  return layer;
}

}  // namespace asb::runtime
