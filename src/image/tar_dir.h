// Writes a directory tree as a tar archive (regular files, directories and symlinks, names
// relative to the directory): how `asbctl image import DIR` sends an OCI layout to asbd, which
// reads it as an OCI archive.
#pragma once

#include <string>

#include "base/result.h"

namespace asb::image {

// `out` is created (it must not exist). Errors name the file that failed.
[[nodiscard]] Status TarDirectory(const std::string& dir, const std::string& out);

}  // namespace asb::image
