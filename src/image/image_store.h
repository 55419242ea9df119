// Local image store. Resolves an image reference to a root filesystem the runtimes can use as
// the read-only lower layer, plus the image's default process (entrypoint, cmd, env, working
// dir, port).
//
// Kinds of image, tried in order after the alias table rewrote the reference:
//   - built-in "python-runtime": generated once under <state_dir>/images/python-runtime/rootfs
//     (merged-usr symlinks, a minimal /etc, /asb/bin/asb-agent copied from the asb-agent binary
//     next to asbd); the host's /usr is bind-mounted read-only at /usr, so the sandbox gets the
//     host's python3 without a copy.
//   - local directory images: <state_dir>/images/<name>/rootfs, with an optional
//     <state_dir>/images/<name>/config.json {"entrypoint":[],"cmd":[],"env":[],"working_dir":"",
//     "port":0,"binds":[{"host_path","sandbox_path","read_only"}]}.
//   - OCI images: any reference naming a registry host (or any other name once a default
//     registry is configured), pulled into <state_dir>/images/oci (image_cache.h) and run as
//     oci_image.h says (the image config applied as a kubelet would, asb-agent injected).
// Anything else is kNotFound (shown to users as the ErrImagePull message).
// Thread-safe; generation is atomic (temp dir + rename), so concurrent daemons or a crash
// mid-way never expose a half-built root.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "image/image_cache.h"
#include "image/image_resolver.h"
#include "runtime/runtime.h"

namespace asb::image {

struct ImageAlias {
  std::string pattern;  // glob over the whole reference: '*' and '?' (fnmatch, no FNM_PATHNAME)
  std::string target;   // image name it resolves to
};

// registry.k8s.io/agent-sandbox/python-runtime-sandbox[:any tag] -> python-runtime.
std::vector<ImageAlias> DefaultAliases();

struct ImageStoreOptions {
  // The asb-agent binary copied into built-in images; empty = next to /proc/self/exe.
  std::string agent_path;
  std::vector<ImageAlias> aliases = DefaultAliases();
  // Host directories bind-mounted read-only into built-in images.
  std::vector<runtime::BindMount> builtin_binds = {{"/usr", "/usr", true}};
  // Registry pulls: default registry, insecure registries, timeouts.
  ImageCacheOptions registry;
};

inline constexpr std::string_view kPythonRuntime = "python-runtime";

class ImageStore final : public ImageResolver {
 public:
  ImageStore(std::string state_dir, ImageStoreOptions options = {});

  // Errors: kInvalidArgument (empty or malformed reference), kNotFound (unknown image),
  // kFailedPrecondition (python-runtime without an asb-agent binary), kInternal (I/O).
  Result<ResolvedImage> Resolve(const std::string& image_ref) override;
  // Resolve with the pod's pull policy and pull secrets (they matter for OCI images only).
  Result<ResolvedImage> ResolveFor(const ImageRequest& request) override;

  // The image name `image_ref` maps to through the alias table (itself when no alias matches).
  std::string ApplyAliases(std::string_view image_ref) const;
  std::string ImagesDir() const { return state_dir_ + "/images"; }
  // The pulled and imported images (listing, removal, import: image_cache.h).
  ImageCache& oci_cache() { return cache_; }

 private:
  [[nodiscard]] Result<ResolvedImage> ResolvePythonRuntime();
  [[nodiscard]] Result<ResolvedImage> ResolveLocal(const std::string& name);
  [[nodiscard]] Result<ResolvedImage> ResolveOci(const std::string& ref,
                                                 const ImageRequest& request);
  // <images>/oci/agent, refreshed when the agent binary changes. Needs mu_.
  [[nodiscard]] Result<std::string> AgentLayer();
  std::string AgentPath() const;

  const std::string state_dir_;
  const ImageStoreOptions options_;
  std::mutex mu_;  // the built-in image and the agent layer; pulls lock in the cache
  ImageCache cache_;
};

// fnmatch-style glob ('*' any run, '?' one character) over the whole string.
bool GlobMatch(std::string_view pattern, std::string_view text);

// Writes the python-runtime root into `dir` (which must not exist), copying `agent_path` to
// /asb/bin/asb-agent. Exposed for tests.
[[nodiscard]] Status GeneratePythonRuntimeRootfs(const std::string& dir,
                                                 const std::string& agent_path);

}  // namespace asb::image
