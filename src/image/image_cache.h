// The content-addressed image cache under <state_dir>/images/oci/, and the pulls that fill it:
//   layers/<hex>/        one unpacked layer per compressed-blob digest, in overlayfs's lower-dir
//                        form (layer_unpack.h); shared by every image and sandbox that uses it
//   images/<hex>.json    one pulled image per manifest digest: its layers and raw config
//   refs/<hex>           the manifest digest a reference (hashed, normalized) last resolved to,
//                        then the reference itself: "<digest>\n<ref>\n"
//   agent/               the asb-agent layer stacked on top of images that lack a server
//   tmp/                 downloads and unpacks in progress (cleared at startup)
// Every entry appears by one rename of a finished temporary (a crash or a failed pull leaves
// nothing half-made where readers look). Layers are unpacked while they download and no
// compressed copy is kept (the unpacked tree is what sandboxes use). Pulls of one reference, and
// downloads of one layer, are serialized (the layers of one pull download kLayerDownloads at a
// time): 20 pods of one new image cause one download and one unpack.
//
// Images leave the cache by Remove, Prune and the disk budget (image_gc.cc): an image's record
// and refs go first, then every layer no remaining image lists (renamed into tmp/ and deleted
// there, so a crash never leaves a half-deleted layer where readers look). An image's last use
// is its record's mtime, touched by every Get. Images a pod uses (the caller says which) are
// never removed. Get and Import hold the cache shared, removal holds it exclusively, so a layer
// is never removed under a pull that found it present.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "image/registry/auth.h"
#include "image/registry/manifest.h"
#include "image/registry/reference.h"

namespace asb::image {

namespace registry {
class RegistryClient;
}

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
  // Registry host -> mirrors tried in order before it (the same repository path on each); any
  // failure of a mirror falls through to the next and finally to the registry itself.
  std::map<std::string, std::vector<std::string>> mirrors;
  std::chrono::milliseconds timeout{30000};  // per network step
  // Disk budget of the cache (layers on disk); 0 = none. After a pull or an import leaves the
  // cache over it, least-recently-used images no pod uses are removed until the cache is at or
  // below kGcLowFraction of it (kubelet's image GC high/low thresholds, with the budget as the
  // high one).
  int64_t disk_budget_bytes = 0;
  // The manifest digests pods use (never collected by the budget). Unset: none.
  std::function<std::set<std::string>()> in_use;
};

inline constexpr double kGcLowFraction = 0.8;
// Layers of one pull downloaded (and unpacked) at once, as containerd and Docker do (3).
inline constexpr size_t kLayerDownloads = 3;

// One cached image, as `asbctl image ls` shows it.
struct ImageInfo {
  std::string digest;             // manifest digest: the image id
  std::vector<std::string> refs;  // the references that resolve to it, sorted
  int64_t size_bytes = 0;         // its layers on disk, shared ones included
  int64_t unique_bytes = 0;       // what removing it frees (layers no other image lists)
  SystemTime last_used{};         // last pod start, pull or import
};

struct GcResult {
  std::vector<std::string> removed;  // manifest digests
  int64_t freed_bytes = 0;
  int64_t cache_bytes = 0;  // the cache's size afterwards
};

class ImageCache {
 public:
  // `dir` is <state_dir>/images/oci.
  ImageCache(std::string dir, ImageCacheOptions options);

  // The credentials for a registry host (the pod's pull secrets); nullopt = anonymous.
  using CredentialsFor =
      std::function<Result<std::optional<registry::Credentials>>(const std::string& host)>;

  // The image for `image_ref`, pulled from its registry (or a mirror of it) as `policy` says.
  // Errors carry the registry's message (registry_client.h); kNotFound with policy Never and no
  // cached copy. `credentials` may be empty (anonymous everywhere).
  [[nodiscard]] Result<CachedImage> Get(const std::string& image_ref, PullPolicy policy,
                                        const CredentialsFor& credentials);

  // The registry host `image_ref` names (after the default registry): which credentials apply.
  [[nodiscard]] Result<std::string> RegistryOf(const std::string& image_ref) const;

  // Listing and removal (image_gc.cc). `in_use` holds manifest digests.
  [[nodiscard]] Result<std::vector<ImageInfo>> List();
  // The manifest digest `name` names in the cache: a reference, a digest, or a unique prefix of
  // at least 12 hex digits of one. kNotFound otherwise.
  [[nodiscard]] Result<std::string> Find(const std::string& name);
  // The cached digest a reference resolves to without pulling; "" when not cached.
  std::string LocalDigest(const std::string& image_ref) const;
  // kFailedPrecondition when `digest` is in use, kNotFound when not cached.
  [[nodiscard]] Result<GcResult> Remove(const std::string& digest,
                                        const std::set<std::string>& in_use);
  // Removes every image not in use.
  [[nodiscard]] Result<GcResult> Prune(const std::set<std::string>& in_use);
  // Applies the disk budget now (no-op without one).
  [[nodiscard]] Result<GcResult> CollectGarbage(const std::set<std::string>& in_use);
  // Bytes on disk of every cached layer.
  [[nodiscard]] Result<int64_t> CacheBytes();

  // Loads a `docker save` archive, an OCI archive (tar of a layout) or an OCI layout directory
  // (image_import.cc). `name` names the image when the input does not (an OCI layout's
  // ref.name annotation is often a bare tag) or overrides what it says; "" = the input's own
  // names. Every blob's digest is checked; layers are unpacked as pulled ones are.
  [[nodiscard]] Result<std::vector<ImageInfo>> Import(const std::string& path,
                                                      const std::string& name);

  const std::string& dir() const { return dir_; }
  int64_t disk_budget_bytes() const { return options_.disk_budget_bytes; }

 private:
  [[nodiscard]] Result<CachedImage> Load(const registry::Reference& ref,
                                         const std::string& manifest_digest);
  [[nodiscard]] Result<CachedImage> Pull(const registry::Reference& ref,
                                         const CredentialsFor& credentials);
  // One pull of `ref` from `from` (its registry or a mirror), recorded under `ref`.
  [[nodiscard]] Result<CachedImage> PullFrom(const registry::Reference& ref,
                                             const registry::Reference& from,
                                             const CredentialsFor& credentials);
  std::shared_ptr<std::mutex> LockFor(const std::string& key);
  std::string RefFile(const registry::Reference& ref) const;
  // The layer `d` from `client` into layers/ unless present; adds the bytes downloaded.
  [[nodiscard]] Status FetchLayer(registry::RegistryClient& client, const registry::Descriptor& d,
                                  int64_t* bytes);
  // Every layer of `layers` not yet present, kLayerDownloads at a time.
  [[nodiscard]] Status FetchLayers(const registry::RegistryClient& client,
                                   const std::vector<registry::Descriptor>& layers, int64_t* bytes);
  // Records image `manifest_digest` (its layers, base first, and raw config) and points `ref`
  // at it.
  [[nodiscard]] Status Record(const registry::Reference& ref, const std::string& manifest_digest,
                              const std::vector<std::string>& layers, const std::string& config);
  // Applies the budget after a pull or import that added `added` (kept whatever the callback
  // says). Logs instead of failing: the image is there, only the cleanup failed.
  void AfterAdd(const std::set<std::string>& added);
  // Under gc_mu_ exclusively.
  [[nodiscard]] Status RemoveLocked(const std::string& digest, GcResult* result);
  int64_t LayerBytes(const std::string& hex);

  const std::string dir_;
  const ImageCacheOptions options_;
  std::shared_mutex gc_mu_;  // Get and Import shared, removal exclusive
  std::mutex mu_;            // locks_, layer_bytes_
  std::map<std::string, std::weak_ptr<std::mutex>> locks_;
  std::map<std::string, int64_t> layer_bytes_;  // layer hex -> bytes on disk (layers never change)
};

// "sha256:<hex>" -> "<hex>" (digests are checked before they name files).
std::string DigestHex(const std::string& digest);

}  // namespace asb::image
