#include "agent/file_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>

#include "base/file_util.h"
#include "base/strings.h"

namespace asb::agent {

namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's own limit (MAXSYMLINKS)

Error AccessDenied() { return Error{Code::kPermissionDenied, "Access denied", 0}; }

// Lexical normalisation of an absolute path, like os.path.normpath: ".." at "/" stays at "/".
std::vector<std::string> AbsComponents(std::string_view path) {
  std::vector<std::string> out;
  for (std::string& c : Split(path, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string JoinPath(const std::vector<std::string>& components) {
  return components.empty() ? std::string(".") : Join(components, "/");
}

// openat2 is probed once: after ENOSYS (old kernel, gVisor) or EPERM (a seccomp filter) the
// process uses the user-space walk for good.
std::atomic<bool> g_openat2_unavailable{false};

int SysOpenat2(int dirfd, const char* path, int flags, int mode, uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? static_cast<uint64_t>(mode) : 0;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

double ModTime(const struct stat& st) {
  return static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
}

}  // namespace

bool IsAccessDenied(const Error& error) {
  return error.code == Code::kPermissionDenied && error.sys_errno == 0 &&
         error.message == "Access denied";
}

Result<FileService> FileService::Open(std::string base_dir) {
  if (base_dir.empty() || base_dir[0] != '/') {
    return MakeError(Code::kInvalidArgument,
                     "base dir must be an absolute path: '" + base_dir + "'");
  }
  std::vector<std::string> comps = AbsComponents(base_dir);
  std::string normalized = "/" + Join(comps, "/");
  ASB_RETURN_IF_ERROR(MakeDirs(normalized, 0755));
  UniqueFd root(::open(normalized.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoUnexpected("open base dir " + normalized);
  return FileService(std::move(normalized), std::move(root));
}

Result<std::vector<std::string>> FileService::Normalize(std::string_view path) const {
  // Mirrors the upstream server: os.path.join(base, path) (an absolute path replaces the base),
  // normalise, then require the result to be the base dir or below it.
  std::string full =
      (!path.empty() && path[0] == '/') ? std::string(path) : base_dir_ + "/" + std::string(path);
  std::vector<std::string> comps = AbsComponents(full);
  std::vector<std::string> base = AbsComponents(base_dir_);
  if (comps.size() < base.size() || !std::equal(base.begin(), base.end(), comps.begin())) {
    return tl::unexpected(AccessDenied());
  }
  comps.erase(comps.begin(), comps.begin() + static_cast<std::ptrdiff_t>(base.size()));
  return comps;
}

Result<UniqueFd> FileService::OpenConfined(std::string_view path, int flags, int mode) const {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> comps, Normalize(path));
  return Resolve(comps, flags, mode);
}

Result<UniqueFd> FileService::Resolve(const std::vector<std::string>& components, int flags,
                                      int mode) const {
  if (!force_fallback_ && !g_openat2_unavailable.load(std::memory_order_relaxed)) {
    std::string rel = JoinPath(components);
    for (int attempt = 0; attempt < 8; ++attempt) {
      int fd = SysOpenat2(root_.get(), rel.c_str(), flags | O_CLOEXEC, mode,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      if (fd >= 0) return UniqueFd(fd);
      // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
      if (errno == EAGAIN) continue;
      if (errno == ENOSYS || errno == EPERM) {
        g_openat2_unavailable.store(true, std::memory_order_relaxed);
        break;
      }
      return ErrnoUnexpected(rel);
    }
    if (!g_openat2_unavailable.load(std::memory_order_relaxed)) {
      return MakeError(Code::kUnavailable, rel + ": path kept changing during lookup");
    }
  }
  return ResolveFallback(components, flags, mode);
}

Result<UniqueFd> FileService::ResolveFallback(const std::vector<std::string>& components, int flags,
                                              int mode) const {
  // User-space RESOLVE_IN_ROOT: walk one component at a time with O_NOFOLLOW, keeping the fds
  // of the directories resolved so far; a symlink's target is spliced into the remaining path
  // (absolute targets restart at the base dir) and ".." pops a directory but never past the
  // base. A component swapped for a symlink between our checks fails with ELOOP instead of
  // being followed.
  const std::string display = JoinPath(components);
  std::deque<std::string> todo(components.begin(), components.end());
  std::vector<UniqueFd> stack;
  int links = 0;
  auto cur = [&] { return stack.empty() ? root_.get() : stack.back().get(); };
  auto open_current = [&]() -> Result<UniqueFd> {
    int fd = ::openat(cur(), ".", flags | O_CLOEXEC, mode);
    if (fd < 0) return ErrnoUnexpected(display);
    return UniqueFd(fd);
  };
  if (todo.empty()) return open_current();
  while (!todo.empty()) {
    std::string comp = std::move(todo.front());
    todo.pop_front();
    const bool last = todo.empty();
    if (comp.empty() || comp == ".") {
      if (last) return open_current();
      continue;
    }
    if (comp == "..") {
      if (!stack.empty()) stack.pop_back();
      if (last) return open_current();
      continue;
    }
    UniqueFd probe(::openat(cur(), comp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!probe) {
      if (errno == ENOENT && last && (flags & O_CREAT)) {
        int fd = ::openat(cur(), comp.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0) return ErrnoUnexpected(display);
        return UniqueFd(fd);
      }
      return ErrnoUnexpected(display);
    }
    struct stat st;
    if (::fstat(probe.get(), &st) != 0) return ErrnoUnexpected(display);
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) return tl::unexpected(ErrnoError(ELOOP, display));
      char target[4096];
      ssize_t n = ::readlinkat(probe.get(), "", target, sizeof(target));
      if (n < 0) return ErrnoUnexpected(display);
      if (n == 0 || static_cast<size_t>(n) >= sizeof(target)) {
        return tl::unexpected(ErrnoError(ENOENT, display));
      }
      std::string_view t(target, static_cast<size_t>(n));
      if (t[0] == '/') stack.clear();
      std::vector<std::string> parts = Split(t, '/');
      todo.insert(todo.begin(), parts.begin(), parts.end());
      continue;
    }
    if (last) {
      if (flags == O_PATH) return probe;
      int fd = ::openat(cur(), comp.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd < 0) return ErrnoUnexpected(display);
      return UniqueFd(fd);
    }
    if (!S_ISDIR(st.st_mode)) return tl::unexpected(ErrnoError(ENOTDIR, display));
    stack.push_back(std::move(probe));
  }
  return open_current();  // unreachable: the loop returns when it takes the last component
}

Result<FileService::OpenedFile> FileService::OpenForRead(std::string_view path) const {
  // O_NONBLOCK: opening a FIFO for reading must not hang the request; it is refused below.
  ASB_ASSIGN_OR_RETURN(UniqueFd fd, OpenConfined(path, O_RDONLY | O_NONBLOCK));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoUnexpected(std::string(path));
  if (!S_ISREG(st.st_mode)) {
    return MakeError(Code::kNotFound, std::string(path) + ": not a regular file");
  }
  return OpenedFile{std::move(fd), static_cast<uint64_t>(st.st_size)};
}

Result<std::string> FileService::ReadFile(std::string_view path) const {
  ASB_ASSIGN_OR_RETURN(OpenedFile file, OpenForRead(path));
  UniqueFd& fd = file.fd;
  std::string data;
  data.resize(static_cast<size_t>(file.size));
  size_t off = 0;
  while (true) {
    if (off == data.size()) data.resize(data.size() + 64 * 1024);  // file grew
    ssize_t n = ::read(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoUnexpected("read " + std::string(path));
    }
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  data.resize(off);
  return data;
}

Status FileService::WriteFile(std::string_view path, std::string_view data) const {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> comps, Normalize(path));
  if (comps.empty()) {
    return MakeError(Code::kFailedPrecondition,
                     "[Errno 21] Is a directory: " + std::string(path.empty() ? "." : path));
  }
  // Create missing parents one level at a time. mkdirat on a single name inside an already
  // confined directory fd cannot escape; the next Resolve follows whatever is there (including
  // a symlink that won a race) with the same confinement.
  int parent = root_.get();
  UniqueFd parent_holder;
  for (size_t i = 0; i + 1 < comps.size(); ++i) {
    std::vector<std::string> prefix(comps.begin(),
                                    comps.begin() + static_cast<std::ptrdiff_t>(i + 1));
    auto dir = Resolve(prefix, O_PATH | O_DIRECTORY, 0);
    if (!dir && dir.error().sys_errno == ENOENT) {
      if (::mkdirat(parent, comps[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoUnexpected("mkdir " + JoinPath(prefix));
      }
      dir = Resolve(prefix, O_PATH | O_DIRECTORY, 0);
    }
    if (!dir) return tl::unexpected(dir.error());
    parent_holder = std::move(*dir);
    parent = parent_holder.get();
  }
  const std::string& leaf = comps.back();
  const std::string tmp = ".asb-upload-" + RandomHex(8) + ".tmp";
  UniqueFd out(::openat(parent, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) return ErrnoUnexpected("create temp file for " + JoinPath(comps));
  bool ok = false;
  auto remove_tmp = [&] {
    if (!ok) ::unlinkat(parent, tmp.c_str(), 0);
  };
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(out.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = ErrnoError(errno, "write " + JoinPath(comps));
      remove_tmp();
      return tl::unexpected(e);
    }
    off += static_cast<size_t>(n);
  }
  if (::close(out.Release()) != 0) {
    Error e = ErrnoError(errno, "close " + JoinPath(comps));
    remove_tmp();
    return tl::unexpected(e);
  }
  // rename replaces a symlink at the destination instead of following it, so the write lands
  // inside the base dir even if the destination was a link pointing elsewhere.
  if (::renameat(parent, tmp.c_str(), parent, leaf.c_str()) != 0) {
    Error e = ErrnoError(errno, "rename into " + JoinPath(comps));
    remove_tmp();
    return tl::unexpected(e);
  }
  ok = true;
  return OkStatus();
}

Result<std::vector<DirEntry>> FileService::List(std::string_view path) const {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> comps, Normalize(path));
  auto fd = Resolve(comps, O_RDONLY | O_DIRECTORY, 0);
  if (!fd) {
    if (fd.error().sys_errno == ENOTDIR) {
      return MakeError(Code::kNotFound, JoinPath(comps) + ": not a directory");
    }
    return tl::unexpected(fd.error());
  }
  int dir_fd = fd->get();
  DIR* dir = ::fdopendir(fd->Release());
  if (dir == nullptr) return ErrnoUnexpected("opendir " + JoinPath(comps));
  std::vector<DirEntry> entries;
  errno = 0;
  while (dirent* de = ::readdir(dir)) {
    std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced away
    if (S_ISLNK(st.st_mode)) {
      // Describe what the link points to, resolved with the same confinement; a dangling or
      // escaping link is listed as itself (a small "file").
      std::vector<std::string> child = comps;
      child.emplace_back(name);
      if (auto target = Resolve(child, O_PATH, 0)) {
        struct stat tst;
        if (::fstat(target->get(), &tst) == 0) st = tst;
      }
    }
    entries.push_back(DirEntry{std::string(name), static_cast<int64_t>(st.st_size),
                               S_ISDIR(st.st_mode), ModTime(st)});
  }
  ::closedir(dir);
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return entries;
}

Result<bool> FileService::Exists(std::string_view path) const {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> comps, Normalize(path));
  // Like os.path.exists: any failure to resolve means "does not exist".
  return Resolve(comps, O_PATH, 0).has_value();
}

}  // namespace asb::agent
