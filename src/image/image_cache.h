// The content-addressed image cache under <state_dir>/images/oci/, and the pulls that fill it:
//   layers/<hex>/        one unpacked layer per compressed-blob digest, in overlayfs's lower-dir
//                        form (layer_unpack.h); shared by every image and sandbox that uses it
//   images/<hex>.json    one pulled image per manifest digest: its layers and raw config
//   refs/<hex>           the manifest digest a reference (hashed, normalized) last resolved to
//   agent/               the asb-agent layer stacked on top of images that lack a server
//   tmp/                 downloads and unpacks in progress (cleared at startup)
// Every entry appears by one rename of a finished temporary (a crash or a failed pull leaves
// nothing half-made where readers look). Layers are unpacked while they download and no
// compressed copy is kept (the unpacked tree is what sandboxes use). Pulls of one reference, and
// downloads of one layer, are serialized: 20 pods of one new image cause one download and one
// unpack.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "image/registry/auth.h"
#include "image/registry/manifest.h"
#include "image/registry/reference.h"

namespace asb::image {

enum class PullPolicy { kAlways, kIfNotPresent, kNever };

// "Always" / "IfNotPresent" / "Never"; "" = the kubelet's default for `image_ref`
// (registry::DefaultPullPolicy). kInvalidArgument otherwise.
[[nodiscard]] Result<PullPolicy> ParsePullPolicy(std::string_view policy,
                                                 std::string_view image_ref);

struct CachedImage {
  std::string ref;                      // normalized reference
  std::string manifest_digest;          // the image id
  std::vector<std::string> layer_dirs;  // unpacked layers, uppermost first
  registry::ImageConfig config;
  // What this call did, for the pod's events.
  bool downloaded = false;  // false: already present on the machine
  int64_t download_bytes = 0;
  std::chrono::milliseconds took{0};
};

struct ImageCacheOptions {
  std::string default_registry;  // for references that name no registry; "" = refuse them
  std::set<std::string> insecure_registries;
  std::chrono::milliseconds timeout{30000};  // per network step
};

class ImageCache {
 public:
  // `dir` is <state_dir>/images/oci.
  ImageCache(std::string dir, ImageCacheOptions options);

  // The image for `image_ref`, pulled from its registry as `policy` says. Errors carry the
  // registry's message (registry_client.h); kNotFound with policy Never and no cached copy.
  [[nodiscard]] Result<CachedImage> Get(const std::string& image_ref, PullPolicy policy,
                                        const std::optional<registry::Credentials>& credentials);

  // The registry host `image_ref` names (after the default registry): which credentials apply.
  [[nodiscard]] Result<std::string> RegistryOf(const std::string& image_ref) const;

  const std::string& dir() const { return dir_; }

 private:
  [[nodiscard]] Result<CachedImage> Load(const registry::Reference& ref,
                                         const std::string& manifest_digest);
  [[nodiscard]] Result<CachedImage> Pull(const registry::Reference& ref,
                                         const std::optional<registry::Credentials>& creds);
  std::shared_ptr<std::mutex> LockFor(const std::string& key);
  std::string RefFile(const registry::Reference& ref) const;

  const std::string dir_;
  const ImageCacheOptions options_;
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<std::mutex>> locks_;
};

// "sha256:<hex>" -> "<hex>" (digests are checked before they name files).
std::string DigestHex(const std::string& digest);

}  // namespace asb::image
