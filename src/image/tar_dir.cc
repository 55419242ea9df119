#include "image/tar_dir.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "base/unique_fd.h"

namespace asb::image {
namespace {

struct WriteCloser {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryCloser {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

}  // namespace

Status TarDirectory(const std::string& dir, const std::string& out) {
  namespace fs = std::filesystem;
  std::unique_ptr<archive, WriteCloser> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  UniqueFd ofd(::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!ofd) return ErrnoUnexpected("create " + out);
  if (archive_write_open_fd(a.get(), ofd.get()) != ARCHIVE_OK)
    return MakeError(Code::kInternal, out + ": " + archive_error_string(a.get()));
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string path = it->path().string();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return ErrnoUnexpected("stat " + path);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
    std::unique_ptr<archive_entry, EntryCloser> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), fs::relative(it->path(), dir).string().c_str());
    archive_entry_copy_stat(e.get(), &st);
    std::string target;
    if (S_ISLNK(st.st_mode)) {
      target = fs::read_symlink(it->path(), ec).string();
      if (ec) return MakeError(Code::kInternal, "readlink " + path + ": " + ec.message());
      archive_entry_set_symlink(e.get(), target.c_str());
    }
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK)
      return MakeError(Code::kInternal, path + ": " + archive_error_string(a.get()));
    if (!S_ISREG(st.st_mode)) continue;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoUnexpected("open " + path);
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0)
      if (archive_write_data(a.get(), buf, static_cast<size_t>(n)) < 0)
        return MakeError(Code::kInternal, out + ": " + archive_error_string(a.get()));
    if (n < 0) return ErrnoUnexpected("read " + path);
  }
  if (ec) return MakeError(Code::kInternal, "listing " + dir + ": " + ec.message());
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return MakeError(Code::kInternal, out + ": " + archive_error_string(a.get()));
  return {};
}

}  // namespace asb::image
