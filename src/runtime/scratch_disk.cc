#include "runtime/scratch_disk.h"

#include <fcntl.h>
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

}  // namespace asb::runtime
