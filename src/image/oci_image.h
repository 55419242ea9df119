// How a pulled OCI image becomes what the node runs (image_resolver.h ResolvedImage), as a
// kubelet applies an image config:
//   - Entrypoint/Cmd are the defaults for the container's command/args, Env is overridden by the
//     container's env, WorkingDir by workingDir, User ("uid[:gid]" or names looked up in the
//     image's own /etc/passwd and /etc/group) by runAsUser/runAsGroup.
//   - The asb-agent layer (a directory holding asb/bin/asb-agent and real tmp, proc, dev
//     directories) is stacked on top of every image, so /asb/bin/asb-agent exists everywhere and
//     no image symlink at those paths can redirect the runtime's mounts.
//   - An image with no ExposedPorts has no server of its own: its default process becomes
//     asb-agent on 8888 (the seed's run()/files API), as E2B injects envd. How a template opts
//     out: an image that declares ExposedPorts is its own server (like upstream's
//     python-runtime) and runs its Entrypoint/Cmd; a container that names a `command` runs that.
//   - The image's WorkingDir may not lead through a symlink in the image: the runtime creates
//     it before entering the sandbox, where a symlink would point into the host.
#pragma once

#include <string>

#include "base/result.h"
#include "image/image_cache.h"
#include "image/image_resolver.h"

namespace asb::image {

inline constexpr int kAgentPort = 8888;

// Errors: kInvalidArgument (a User the image's passwd does not have, a WorkingDir through a
// symlink), kInternal (I/O).
[[nodiscard]] Result<ResolvedImage> ToResolvedImage(const CachedImage& image,
                                                    const std::string& agent_layer);

// Writes the agent layer into `dir` (which must not exist) with a copy of `agent_path`.
[[nodiscard]] Status GenerateAgentLayer(const std::string& dir, const std::string& agent_path);

// The topmost entry for absolute `path` across `layers` (uppermost first) never goes through a
// symlink (conservative: an opaque directory's lower layers are still looked at).
// kInvalidArgument naming the symlink.
[[nodiscard]] Status CheckNoSymlinkAlong(const std::vector<std::string>& layers,
                                         const std::string& path);

}  // namespace asb::image
