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
#include "store/store.h"

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
  // `secrets` is where the pods' imagePullSecrets are read.
  SandboxPreparer(image::ImageResolver& images, store::Store& secrets)
      : images_(images), secrets_(secrets) {}

  // May block (the resolver may unpack or pull).
  [[nodiscard]] tl::expected<PreparedSandbox, PrepareFailure> Prepare(const PodPlan& plan);

 private:
  // The pull secrets' .dockerconfigjson documents. As the kubelet does, a Secret that is missing
  // or of another type is skipped (the pull goes on without it); what was skipped is returned in
  // `skipped` for the failure message, so a 401 says why no credentials were sent.
  std::vector<std::string> DockerConfigs(const PodPlan& plan, std::string* skipped);

  image::ImageResolver& images_;
  store::Store& secrets_;
};

}  // namespace asb::node
