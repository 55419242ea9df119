// Native sandboxes run in a user namespace whose ids map to a host range that depends on the
// slot the sandbox got (native_runtime.h: root is host id_map_base + slot*size). A persistent
// volume outlives the sandbox, and the next sandbox using it (the container restarted, or a
// new pod) may get another slot, so files the last one wrote would show up as nobody's and be
// read-only to it. Before such a sandbox starts, the volume's ids are moved into its range:
// every inode whose uid/gid is in the previous range gets the same offset in the new one (ids
// outside it are left alone), like the kubelet's fsGroupChangePolicy OnRootMismatch. The range
// last applied is recorded on the volume's root as the xattr trusted.asb.id-base (invisible in
// the sandbox), so restarting in the same slot costs one getxattr. A fresh volume (no xattr) is
// treated as range 0: host root's files become the sandbox root's.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace asb::runtime::native {

// Errors: kInternal (a walk or chown failed; the start fails rather than give a sandbox a volume
// it cannot write).
[[nodiscard]] Status GiveVolumeToIds(const std::string& root, uint32_t base, uint32_t size);

}  // namespace asb::runtime::native
