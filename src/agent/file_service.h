// File operations confined to the sandbox's base directory (SANDBOX_BASE_DIR, default /app).
//
// Security: every path a client sends is resolved relative to an O_PATH fd of the base
// directory with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so symlinks -- absolute or
// relative, planted by a command the client ran -- are resolved as if the base dir were "/" and
// can never reach a file outside it. Where openat2 is missing (older kernels, gVisor builds
// without it, seccomp filters returning ENOSYS/EPERM) a component-by-component walk with
// O_NOFOLLOW implements the same semantics in user space. Lexical ".." that climbs above the base
// dir is refused with kPermissionDenied before anything is opened (the upstream server answers
// 403 for it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::agent {

struct DirEntry {
  std::string name;
  int64_t size = 0;
  bool is_dir = false;
  double mod_time = 0;  // seconds since the epoch, with sub-second precision
};

// True for the error every FileService call returns when a path would leave the base dir
// (kPermissionDenied, message "Access denied", no errno). Distinguishes it from EACCES.
bool IsAccessDenied(const Error& error);

class FileService {
 public:
  // Creates base_dir (mkdir -p) if missing and opens it. kInvalidArgument if base_dir is not
  // absolute; errno-mapped errors if it can't be created or opened.
  [[nodiscard]] static Result<FileService> Open(std::string base_dir);

  const std::string& base_dir() const { return base_dir_; }

  // Turns a client path into components relative to the base dir: relative paths are taken
  // from the base dir; absolute paths must lie lexically under it (as with the upstream's
  // os.path.join). "." and empty components are dropped and ".." is applied lexically.
  // kPermissionDenied ("Access denied") if the result would leave the base dir.
  [[nodiscard]] Result<std::vector<std::string>> Normalize(std::string_view path) const;

  // Opens a path (see Normalize) confined to the base dir; `flags` are open(2) flags
  // (O_CLOEXEC is added). Errors: kPermissionDenied (escape), kNotFound, other errno codes.
  [[nodiscard]] Result<UniqueFd> OpenConfined(std::string_view path, int flags, int mode = 0) const;

  // Reads a regular file. kNotFound if missing or not a regular file (directories, FIFOs).
  [[nodiscard]] Result<std::string> ReadFile(std::string_view path) const;
  // Opens a regular file for reading in pieces (downloads stream from it in bounded memory).
  // Same errors as ReadFile; `size` is the size at open time.
  struct OpenedFile {
    UniqueFd fd;
    uint64_t size = 0;
  };
  [[nodiscard]] Result<OpenedFile> OpenForRead(std::string_view path) const;
  // Writes a file atomically (temp file in the same dir + rename), creating missing parent
  // directories. kFailedPrecondition if the path names the base dir or a directory.
  [[nodiscard]] Status WriteFile(std::string_view path, std::string_view data) const;
  // Lists a directory, sorted by name. kNotFound if missing or not a directory.
  [[nodiscard]] Result<std::vector<DirEntry>> List(std::string_view path) const;
  // True if the path resolves (inside the base dir) to anything.
  [[nodiscard]] Result<bool> Exists(std::string_view path) const;

  // Test hook: force the user-space resolver even where openat2 works. Not thread-safe with
  // concurrent calls; set before use.
  void set_force_fallback_for_test(bool force) { force_fallback_ = force; }

  FileService(FileService&&) noexcept = default;
  FileService& operator=(FileService&&) noexcept = default;

 private:
  FileService(std::string base_dir, UniqueFd root)
      : base_dir_(std::move(base_dir)), root_(std::move(root)) {}
  Result<UniqueFd> Resolve(const std::vector<std::string>& components, int flags, int mode) const;
  Result<UniqueFd> ResolveFallback(const std::vector<std::string>& components, int flags,
                                   int mode) const;

  std::string base_dir_;  // absolute, without a trailing slash (except "/")
  UniqueFd root_;         // O_PATH | O_DIRECTORY fd of base_dir_
  bool force_fallback_ = false;
};

}  // namespace asb::agent
