// File helpers that return Result instead of throwing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace asb {

[[nodiscard]] Result<std::string> ReadFile(const std::string& path);
// Writes to path.tmp, fsyncs, renames over path: readers see the old or the new file, never half.
[[nodiscard]] Status AtomicWriteFile(const std::string& path, std::string_view data,
                                     int mode = 0644);
// mkdir -p; OK if it exists.
[[nodiscard]] Status MakeDirs(const std::string& path, int mode = 0755);
// rm -rf without crossing mount points; OK if missing.
[[nodiscard]] Status RemoveTree(const std::string& path);
bool PathExists(const std::string& path);
// Names of the directories directly under `dir` (not symlinks to one; no "." or ".."), sorted.
// A missing `dir` has none.
[[nodiscard]] Result<std::vector<std::string>> ListSubdirs(const std::string& dir);
// Directory of /proc/self/exe, for finding sibling binaries (asb-init, asb-agent).
std::string SelfExeDir();

}  // namespace asb
