#include "cmd/asbd/node_pod_streams.h"

#include <mutex>

#include "base/file_util.h"

namespace asb::asbd {

void NodePodStreams::Attach(node::NodeAgent* node, runtime::native::NativeRuntime* native,
                            runtime::RunscRuntime* gvisor) {
  std::unique_lock l(mu_);
  node_ = node;
  native_ = native;
  gvisor_ = gvisor;
}

Result<UniqueFd> NodePodStreams::DialPod(const std::string& ns, const std::string& pod,
                                         uint16_t port) {
  std::shared_lock l(mu_);
  if (!node_) return MakeError(Code::kUnavailable, "asbd is starting or shutting down");
  return node_->DialPod(ns, pod, port);
}

Result<apiserver::PodLogFiles> NodePodStreams::LogFiles(const std::string& ns,
                                                        const std::string& pod) {
  std::shared_lock l(mu_);
  if (!node_) return MakeError(Code::kUnavailable, "asbd is starting or shutting down");
  ASB_ASSIGN_OR_RETURN(node::NodeAgent::PodSandbox sb, node_->SandboxOf(ns, pod));
  apiserver::PodLogFiles files;
  files.running = sb.running;
  // The runtime is unknown while the container is down: look where either would have written.
  if ((sb.runtime.empty() || sb.runtime == "native") && native_) {
    std::string path = native_->SandboxDir(sb.sandbox_id) + "/output.log";
    if (sb.runtime == "native" || PathExists(path)) files.current = path;
  }
  if (files.current.empty() && (sb.runtime.empty() || sb.runtime == "gvisor") && gvisor_) {
    std::string path = gvisor_->BundleDir(sb.sandbox_id) + "/console.log";
    if (sb.runtime == "gvisor" || PathExists(path)) files.current = path;
  }
  if (files.current.empty())
    return MakeError(Code::kNotFound, "pod " + ns + "/" + pod + " has no container output yet");
  return files;
}

}  // namespace asb::asbd
