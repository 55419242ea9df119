// An image reference split the way Docker and containerd read it:
//   [host[:port]/]path[:tag][@sha256:<64 hex>]
// The first component is a registry host when it has a '.' or ':' or is "localhost"; otherwise
// the reference names no registry and `default_registry` is used (asb ships none: an operator
// names one in the node's config, so unqualified names never go to a registry by surprise).
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace asb::image::registry {

struct Reference {
  std::string registry;    // "127.0.0.1:5000", "example.com"
  std::string repository;  // "team/agent-env"
  std::string tag;         // "" when only a digest was given
  std::string digest;      // "sha256:<hex>" or ""

  // What a manifest request names: the digest when pinned, else the tag.
  std::string ManifestRef() const { return digest.empty() ? tag : digest; }
  // "registry/repository:tag@digest", normalized (the tag "latest" filled in).
  std::string String() const;
};

// Errors: kInvalidArgument naming the bad part.
[[nodiscard]] Result<Reference> ParseReference(std::string_view ref,
                                               std::string_view default_registry = "");

// True for a "sha256:" + 64 lower-case hex digest (the only algorithm accepted).
bool IsSha256Digest(std::string_view digest);

// Loopback registries (localhost, 127.0.0.0/8, ::1) are spoken to over plain HTTP, as Docker
// does without configuration; every other host over HTTPS.
bool IsLoopbackHost(std::string_view registry);

// kubelet's default pull policy: Always for ":latest" or no tag (and no digest), else
// IfNotPresent.
std::string DefaultPullPolicy(std::string_view image_ref);

}  // namespace asb::image::registry
