// The seam between the node agent and images: what the node needs to know about an image to
// run it. ImageStore (image_store.h) is the implementation; node tests supply their own.
#pragma once

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
  std::string image_id;                 // stable id, reported as containerStatuses[].imageID
};

class ImageResolver {
 public:
  virtual ~ImageResolver() = default;
  // Makes the image available locally and describes it. May block (unpacking, pulls).
  // Errors: kNotFound (unknown image), kUnavailable (transient), others with a message that is
  // shown to the user as the ErrImagePull message. Thread-safe.
  [[nodiscard]] virtual Result<ResolvedImage> Resolve(const std::string& image_ref) = 0;
};

}  // namespace asb::image
