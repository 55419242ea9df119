#include "image/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>

#include "base/strings.h"
#include "base/unique_fd.h"

namespace asb::image {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ReadCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteCloser {
  void operator()(archive* a) const { archive_write_free(a); }
};

tl::unexpected<Error> Refuse(const std::string& entry, const std::string& why) {
  return MakeError(Code::kInvalidArgument, "layer entry \"" + entry + "\" " + why);
}

// Opens directory `rel` under `root_fd`, creating missing components, never following a
// symlink (O_NOFOLLOW on every step): the parent of a whiteout or an opaque marker.
Result<UniqueFd> OpenDirUnder(int root_fd, const std::string& rel, const std::string& entry) {
  UniqueFd cur(::dup(root_fd));
  if (!cur) return ErrnoUnexpected("dup");
  for (const std::string& part : Split(rel, '/')) {
    if (part.empty()) continue;
    if (::mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoUnexpected("mkdir " + rel);
    }
    UniqueFd next(
        ::openat(cur.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      if (errno == ELOOP || errno == ENOTDIR)
        return Refuse(entry, "goes through a symlink or file");
      return ErrnoUnexpected("open " + rel);
    }
    cur = std::move(next);
  }
  return cur;
}

// True when some directory component of `rel` (not the last) is a symlink under `root`.
bool ThroughSymlink(const std::string& root, const std::string& rel) {
  std::vector<std::string> parts = Split(rel, '/');
  std::string path = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    path += "/" + parts[i];
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return false;  // missing: created as a directory
    if (S_ISLNK(st.st_mode)) return true;
  }
  return false;
}

std::string ArchiveError(archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return what + ": " + (msg != nullptr ? msg : "unknown libarchive error");
}

}  // namespace

Result<std::string> CleanEntryPath(const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& part : Split(name, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return Refuse(name, "has a \"..\" component (escapes the image root)");
    out.push_back(part);
  }
  return Join(out, "/");
}

namespace {
Result<UnpackStats> Unpack(archive* in, const std::string& dest_in);
}  // namespace

Result<UnpackStats> UnpackLayer(const std::string& archive_path, const std::string& dest) {
  std::unique_ptr<archive, ReadCloser> in(archive_read_new());
  archive_read_support_filter_gzip(in.get());
  archive_read_support_filter_zstd(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_filename(in.get(), archive_path.c_str(), 1 << 20) != ARCHIVE_OK) {
    return MakeError(Code::kInvalidArgument, ArchiveError(in.get(), "layer " + archive_path));
  }
  return Unpack(in.get(), dest);
}

Result<UnpackStats> UnpackLayerFd(int fd, const std::string& dest) {
  std::unique_ptr<archive, ReadCloser> in(archive_read_new());
  archive_read_support_filter_gzip(in.get());
  archive_read_support_filter_zstd(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_fd(in.get(), fd, 1 << 20) != ARCHIVE_OK) {
    return MakeError(Code::kInvalidArgument, ArchiveError(in.get(), "layer"));
  }
  return Unpack(in.get(), dest);
}

namespace {

Result<UnpackStats> Unpack(archive* in_archive, const std::string& dest_in) {
  char real[PATH_MAX];
  if (::realpath(dest_in.c_str(), real) == nullptr) return ErrnoUnexpected("realpath " + dest_in);
  const std::string dest = real;
  UniqueFd root_fd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return ErrnoUnexpected("open " + dest);

  struct NoClose {
    void operator()(archive*) const {}
  };
  std::unique_ptr<archive, NoClose> in(in_archive);
  std::unique_ptr<archive, WriteCloser> out(archive_write_disk_new());
  // SECURE_SYMLINKS: refuse to write through a symlink; NODOTDOT: refuse ".." (checked here
  // first for a clearer message). UNLINK: a later entry replaces an earlier one of another type.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
                                                ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  // No name lookup: an entry's numeric uid/gid is its owner, as in any container runtime. The
  // host's /etc/passwd says nothing about the image's users (a "daemon" entry of uid 1000 must
  // stay 1000, not become the host's daemon).

  UnpackStats stats;
  archive_entry* e = nullptr;
  while (true) {
    int r = archive_read_next_header(in.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return MakeError(Code::kInvalidArgument, ArchiveError(in.get(), "reading layer"));
    }
    ++stats.entries;
    const std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    ASB_ASSIGN_OR_RETURN(std::string rel, CleanEntryPath(name));
    if (rel.empty()) continue;  // the layer's own "./"
    size_t slash = rel.rfind('/');
    std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
    std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);

    if (StartsWith(base, kWhiteoutPrefix)) {
      ASB_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirUnder(root_fd.get(), parent, name));
      if (base == kOpaqueMarker) {
        if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
          return ErrnoUnexpected("set the opaque marker on " + parent);
        }
        continue;
      }
      std::string hidden = base.substr(kWhiteoutPrefix.size());
      if (hidden.empty() || hidden == "." || hidden == "..") {
        return Refuse(name, "is a whiteout of nothing");
      }
      (void)::unlinkat(dir.get(), hidden.c_str(), 0);
      if (::mknodat(dir.get(), hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
        return ErrnoUnexpected("whiteout " + rel);
      }
      continue;
    }
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFCHR || type == AE_IFBLK) continue;
    if (ThroughSymlink(dest, rel)) return Refuse(name, "would be written through a symlink");
    if (const char* link = archive_entry_hardlink(e); link != nullptr) {
      ASB_ASSIGN_OR_RETURN(std::string target, CleanEntryPath(link));
      if (target.empty()) return Refuse(name, "is a hard link to the root");
      if (ThroughSymlink(dest, target)) {
        return Refuse(name, "is a hard link through a symlink (\"" + std::string(link) + "\")");
      }
      struct stat st;
      if (::lstat((dest + "/" + target).c_str(), &st) != 0) {
        return Refuse(
            name, "is a hard link to \"" + std::string(link) + "\", which is not in this layer");
      }
      archive_entry_set_hardlink(e, (dest + "/" + target).c_str());
    }
    archive_entry_set_pathname(e, (dest + "/" + rel).c_str());
    r = archive_write_header(out.get(), e);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return MakeError(Code::kInvalidArgument,
                       ArchiveError(out.get(), "layer entry \"" + name + "\""));
    }
    if (archive_entry_size(e) > 0 && type == AE_IFREG) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(out.get(), buf, size, offset) != ARCHIVE_OK) {
          return MakeError(Code::kInternal, ArchiveError(out.get(), "writing " + rel));
        }
        stats.bytes += static_cast<int64_t>(size);
      }
      if (r != ARCHIVE_EOF) {
        return MakeError(Code::kInvalidArgument, ArchiveError(in.get(), "reading " + rel));
      }
    }
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK) {
      return MakeError(Code::kInternal, ArchiveError(out.get(), "finishing " + rel));
    }
  }
  // Directory modes and times are applied here (libarchive defers them until close).
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    return MakeError(Code::kInternal, ArchiveError(out.get(), "closing layer"));
  }
  return stats;
}

}  // namespace
}  // namespace asb::image
