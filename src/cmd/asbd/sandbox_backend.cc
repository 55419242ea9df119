#include "cmd/asbd/sandbox_backend.h"

#include "api/resource.h"

namespace asb::asbd {

namespace {

bool IsReady(const Json& sandbox) {
  const Json* conditions = Find(sandbox, "status.conditions");
  if (!conditions || !conditions->is_array()) return false;
  for (const Json& c : *conditions)
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

}  // namespace

Result<UniqueFd> SandboxBackend::Connect(const std::string& ns, const std::string& sandbox_id,
                                         uint16_t port) {
  auto sandbox = store_.Get(api::SandboxResource(), ns, sandbox_id);
  if (!sandbox) {
    if (sandbox.error().code == Code::kNotFound)
      return MakeError(Code::kNotFound, "sandbox " + ns + "/" + sandbox_id + " not found");
    return tl::unexpected(sandbox.error());
  }
  if (!IsReady(*sandbox))
    return MakeError(Code::kFailedPrecondition,
                     "sandbox " + ns + "/" + sandbox_id + " is not ready");
  // The pod is named like the sandbox unless the controller recorded another name.
  std::string pod;
  if (const Json* annotations = Find(*sandbox, "metadata.annotations");
      annotations && annotations->is_object()) {
    auto it = annotations->find("agents.x-k8s.io/pod-name");
    if (it != annotations->end() && it->is_string()) pod = it->get<std::string>();
  }
  if (pod.empty()) pod = sandbox_id;
  auto fd = node_.DialPod(ns, pod, port);
  if (!fd) {
    Error e = fd.error().Wrap("sandbox " + ns + "/" + sandbox_id + " port " + std::to_string(port));
    if (e.code == Code::kNotFound || e.code == Code::kUnavailable) e.code = Code::kInternal;
    return tl::unexpected(e);
  }
  return fd;
}

}  // namespace asb::asbd
