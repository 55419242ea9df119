// Unpacks one OCI/Docker image layer (a tar, plain, gzip or zstd: libarchive detects which) into
// an empty directory, in the form overlayfs reads as a lower layer, so layers are unpacked once
// and stacked per sandbox instead of flattened per image:
//   - a whiteout ".wh.<name>" becomes a 0/0 character device <name> (overlayfs's whiteout);
//   - an opaque marker ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory.
// Untrusted input: an entry whose path has a ".." component, that would be written through a
// symlink (including an absolute one made earlier in the layer), or a hard link whose target
// does either, fails the whole layer with kInvalidArgument naming the entry. Device nodes are
// skipped (a sandbox gets its /dev from the runtime). Owners are the entries' numeric uid/gid
// (never looked up by name on the host) and modes are kept, setuid/setgid bits included, as a
// kubelet's runtime unpacks them; they grant nothing: the native sandbox's root is mounted
// nosuid and its processes run with no_new_privs (a kubelet's allowPrivilegeEscalation: false),
// gVisor does the same. Extended attributes are not restored (an image could otherwise plant
// overlayfs's own trusted.* attributes).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace asb::image {

struct UnpackStats {
  int64_t entries = 0;
  int64_t bytes = 0;  // uncompressed file bytes written
};

// `dest` must exist and be empty. On error `dest` is left partly filled: the caller unpacks into
// a temporary directory and removes it.
[[nodiscard]] Result<UnpackStats> UnpackLayer(const std::string& archive_path,
                                              const std::string& dest);
// The same from a stream (a socket a download writes into: the layer is unpacked while it
// arrives). Reads up to the end of the archive, not necessarily to the end of `fd`.
[[nodiscard]] Result<UnpackStats> UnpackLayerFd(int fd, const std::string& dest);

// The cleaned relative path of a layer entry ("./a/b" and "/a/b" -> "a/b", "./" -> ""), or an
// error naming the entry when a component is "..". Exposed for tests.
[[nodiscard]] Result<std::string> CleanEntryPath(const std::string& name);

}  // namespace asb::image
