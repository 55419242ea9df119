// The registry documents an image is made of, parsed from JSON the registry sent (untrusted:
// every field is checked, sizes are bounded by the caller before parsing).
//   - image manifest: OCI (application/vnd.oci.image.manifest.v1+json) or Docker v2 schema 2
//     (application/vnd.docker.distribution.manifest.v2+json): a config blob and layer blobs.
//   - image index / manifest list (OCI index, Docker manifest list): one manifest per platform;
//     the node runs linux/amd64.
//   - image config (application/vnd.oci.image.config.v1+json and Docker's): the default process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace asb::image::registry {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
// The Accept header of a manifest request: every kind above.
std::string ManifestAccept();

// A manifest bigger than this is refused before it is read (real ones are a few KiB).
inline constexpr size_t kMaxManifestBytes = 4u << 20;
// An image config bigger than this is refused (real ones are a few KiB, history included).
inline constexpr size_t kMaxConfigBytes = 8u << 20;

struct Descriptor {
  std::string media_type;
  std::string digest;  // sha256:<hex>, checked
  int64_t size = 0;    // >= 0, checked
};

struct Manifest {
  bool is_index = false;
  // Image manifest:
  Descriptor config;
  std::vector<Descriptor> layers;  // base layer first
  // Index: the linux/amd64 entry, picked by ParseManifest.
  Descriptor platform_manifest;
};

// `content_type` is the response's Content-Type (used when the body has no mediaType).
// Errors: kInvalidArgument (not JSON, unknown media type, bad digest/size, an index without a
// linux/amd64 entry: the message lists the platforms it has).
[[nodiscard]] Result<Manifest> ParseManifest(std::string_view body, std::string_view content_type);

// The image config's default process, as the kubelet applies it.
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;                // "uid[:gid]" or a name; "" = root
  std::vector<int> exposed_ports;  // tcp ports from ExposedPorts ("8080/tcp")
  std::vector<std::string> diff_ids;
};

// Errors: kInvalidArgument naming the bad field (architecture other than amd64, os other than
// linux, wrong types).
[[nodiscard]] Result<ImageConfig> ParseImageConfig(std::string_view body);

}  // namespace asb::image::registry
