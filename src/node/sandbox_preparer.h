// SandboxPreparer: everything a pod's sandbox needs before a runtime starts it — the image
// resolved to a local root filesystem (image/image_resolver.h) and the SandboxSpec built from the
// pod plan and that image (pod_spec.h) — with each failure told apart the way the kubelet reports
// it: a failed pull is ErrImagePull (retried on the pull back-off), a spec that can't be built is
// RunContainerError (retried on the restart back-off). The sandboxes' networking is set up by the
// runtimes (loopback-only namespaces reached through Runtime::DialPort), so nothing about it is
// prepared here yet. Thread-safe as far as the resolver is.
#pragma once

#include <string>

#include "base/result.h"
#include "image/image_resolver.h"
#include "node/pod_spec.h"
#include "runtime/runtime.h"

namespace asb::node {

struct PreparedSandbox {
  runtime::SandboxSpec spec;
  std::string image_id;             // containerStatuses[].imageID
  image::ResolvedImage::Pull pull;  // what resolving the image did (Pulling/Pulled events)
};

struct PrepareFailure {
  enum class Kind { kPull, kSpec };
  Kind kind = Kind::kSpec;
  std::string message;  // the container's waiting message
};

class SandboxPreparer {
 public:
  explicit SandboxPreparer(image::ImageResolver& images) : images_(images) {}

  // May block (the resolver may unpack or pull).
  [[nodiscard]] tl::expected<PreparedSandbox, PrepareFailure> Prepare(const PodPlan& plan);

 private:
  image::ImageResolver& images_;
};

}  // namespace asb::node
