// The seam between the node agent and images: what the node needs to know about an image to
// run it. ImageStore (image_store.h) is the implementation; node tests supply their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "runtime/runtime.h"

namespace asb::image {

struct ResolvedImage {
  runtime::RootFs rootfs;
  std::vector<std::string> entrypoint;  // OCI config Entrypoint (Kubernetes "command" default)
  std::vector<std::string> cmd;         // OCI config Cmd (Kubernetes "args" default)
  std::vector<std::string> env;         // "KEY=VALUE", overridden by the container's env
  std::string working_dir;              // "" = "/"
  int port = 0;                         // the port the image serves on (0 = none)
  // An asb-agent to run beside a container process that is not it ("" = none), so that exec
  // and run() reach the pod (agent/supervisor.h); the port it then serves on.
  std::string exec_agent;
  int exec_agent_port = 0;
  std::string image_id;         // stable id, reported as containerStatuses[].imageID
  std::optional<uint32_t> uid;  // OCI config User (Kubernetes runAsUser default)
  std::optional<uint32_t> gid;  // its group (runAsGroup default)
  // What resolving did, for the pod's Pulling/Pulled events.
  struct Pull {
    bool downloaded = false;  // false: already present on machine
    int64_t bytes = 0;        // downloaded
    std::chrono::milliseconds took{0};
  } pull;
};

// What the pod asks of its image.
struct ImageRequest {
  std::string image;
  std::string pull_policy;  // Always, IfNotPresent, Never; "" = the kubelet's default
  // .dockerconfigjson documents of the pod's imagePullSecrets, tried in order.
  std::vector<std::string> docker_configs;
};

class ImageResolver {
 public:
  virtual ~ImageResolver() = default;
  // Makes the image available locally and describes it. May block (unpacking, pulls).
  // Errors: kNotFound (unknown image), kUnavailable (transient), others with a message that is
  // shown to the user as the ErrImagePull message. Thread-safe.
  [[nodiscard]] virtual Result<ResolvedImage> Resolve(const std::string& image_ref) = 0;
  // The same with the pod's pull policy and credentials; resolvers without registries ignore
  // them.
  [[nodiscard]] virtual Result<ResolvedImage> ResolveFor(const ImageRequest& request) {
    return Resolve(request.image);
  }
};

}  // namespace asb::image
