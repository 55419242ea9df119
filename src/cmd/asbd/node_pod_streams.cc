#include "cmd/asbd/node_pod_streams.h"

#include <unistd.h>

#include <mutex>

#include "base/file_util.h"
#include "base/strings.h"

namespace asb::asbd {

void NodePodStreams::Attach(node::NodeAgent* node, runtime::native::NativeRuntime* native,
                            runtime::runsc::RunscRuntime* gvisor) {
  std::unique_lock l(mu_);
  node_ = node;
  native_ = native;
  gvisor_ = gvisor;
}

Result<UniqueFd> NodePodStreams::DialPod(const std::string& ns, const std::string& pod,
                                         uint16_t port) {
  return dialer_.Dial(ns, pod, port);
}

// Guarded by the caller's lock on mu_.
std::string NodePodStreams::CurrentLog(const std::string& sandbox_id, std::string_view runtime) {
  // The runtime is unknown while the container is down: look where either would have written.
  for (runtime::Runtime* rt :
       {static_cast<runtime::Runtime*>(native_), static_cast<runtime::Runtime*>(gvisor_)}) {
    if (rt == nullptr || !(runtime.empty() || runtime == rt->name())) continue;
    std::string path = rt->LogPath(sandbox_id);
    if (!path.empty() && (runtime == rt->name() || PathExists(path))) return path;
  }
  return "";
}

std::string NodePodStreams::PreviousLog(const std::string& uid) const {
  return state_dir_ + "/pod-logs/" + uid + ".previous.log";
}

Result<apiserver::PodLogFiles> NodePodStreams::LogFiles(const std::string& ns,
                                                        const std::string& pod) {
  std::shared_lock l(mu_);
  if (!node_) return MakeError(Code::kUnavailable, "asbd is starting or shutting down");
  ASB_ASSIGN_OR_RETURN(node::NodeAgent::PodSandbox sb, node_->SandboxOf(ns, pod));
  apiserver::PodLogFiles files;
  files.running = sb.running;
  files.current = CurrentLog(sb.sandbox_id, sb.runtime);
  if (PathExists(PreviousLog(sb.uid))) files.previous = PreviousLog(sb.uid);
  // A container that exited and was not restarted (yet): its output is the saved copy.
  if (!sb.running && !PathExists(files.current)) files.current = files.previous;
  if (files.current.empty() && files.previous.empty())
    return MakeError(Code::kNotFound, "pod " + ns + "/" + pod + " has no container output yet");
  return files;
}

void NodePodStreams::AttachRemote(NodeProxy* proxy, std::string local_node) {
  std::unique_lock l(mu_);
  proxy_ = proxy;
  local_node_ = std::move(local_node);
}

std::optional<http::Response> NodePodStreams::RemoteLog(const Json& pod,
                                                        const std::string& container,
                                                        const http::Request& req) {
  const std::string node_name = GetString(pod, "spec.nodeName");
  const std::string ns = GetString(pod, "metadata.namespace");
  const std::string name = GetString(pod, "metadata.name");
  std::shared_lock l(mu_);
  if (proxy_ == nullptr || node_name.empty() || node_name == local_node_) return std::nullopt;
  std::string target =
      "/containerLogs/" + UrlEncode(ns) + "/" + UrlEncode(name) + "/" + UrlEncode(container);
  if (!req.raw_query.empty()) target += "?" + req.raw_query;
  return proxy_->Forward(node_name, req, target);
}

void NodePodStreams::SavePrevious(const std::string& uid, const std::string& sandbox_id,
                                  std::string_view runtime) {
  std::shared_lock l(mu_);
  std::string from = CurrentLog(sandbox_id, runtime);
  if (from.empty() || uid.find('/') != std::string::npos) return;
  // The runtime's two halves, older first (runtime.h), together at most its output cap.
  std::string text = ReadFile(from + ".1").value_or("") + ReadFile(from).value_or("");
  if (text.empty()) return;
  // Best effort: without it only --previous is missing. The runtime caps the file it copies.
  if (!MakeDirs(state_dir_ + "/pod-logs", 0700)) return;
  (void)AtomicWriteFile(PreviousLog(uid), text, 0600);
}

void NodePodStreams::Forget(const std::string& uid) {
  if (uid.find('/') != std::string::npos) return;
  ::unlink(PreviousLog(uid).c_str());
}

}  // namespace asb::asbd
