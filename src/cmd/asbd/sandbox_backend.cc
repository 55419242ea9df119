#include "cmd/asbd/sandbox_backend.h"

#include "api/resource.h"
#include "controller/object_util.h"

namespace asb::asbd {

Result<UniqueFd> SandboxBackend::ConnectTimed(const std::string& ns, const std::string& sandbox_id,
                                              uint16_t port, router::ConnectTiming* timing) {
  const auto start = std::chrono::steady_clock::now();
  auto sandbox = store_.Get(api::SandboxResource(), ns, sandbox_id);
  if (!sandbox) {
    if (sandbox.error().code == Code::kNotFound)
      return MakeError(Code::kNotFound, "sandbox " + ns + "/" + sandbox_id + " not found");
    return tl::unexpected(sandbox.error());
  }
  if (!controller::ConditionTrue(*sandbox, "Ready"))
    return MakeError(Code::kFailedPrecondition,
                     "sandbox " + ns + "/" + sandbox_id + " is not ready");
  // The pod is named like the sandbox unless the controller recorded another name.
  std::string pod =
      controller::Annotation(*sandbox, controller::kAnnotationPodName).value_or(sandbox_id);
  if (pod.empty()) pod = sandbox_id;
  if (timing) timing->resolve = std::chrono::steady_clock::now() - start;
  auto fd = node_.DialPod(ns, pod, port);
  if (!fd) {
    Error e = fd.error().Wrap("sandbox " + ns + "/" + sandbox_id + " port " + std::to_string(port));
    if (e.code == Code::kNotFound || e.code == Code::kUnavailable) e.code = Code::kInternal;
    return tl::unexpected(e);
  }
  return fd;
}

}  // namespace asb::asbd
