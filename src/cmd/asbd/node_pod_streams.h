// The API server's PodStreams in the embedded daemon: dials through PodDialer (the node, or the
// embedded component behind a mirror pod) and finds a pod's output where its runtime keeps it
// (Runtime::LogPath, plus its older half ".1").
//
// `kubectl logs --previous`: when a container exits, its output is copied to
// <state>/pod-logs/<pod uid>.previous.log before the runtime removes the sandbox (the node's
// on_container_exited hook), and removed when the node forgets the pod.
//
// The API server starts before the node, so the node is attached later; Attach(nullptr) at
// shutdown waits for calls in flight and makes later ones fail with kUnavailable.
#pragma once

#include <shared_mutex>
#include <string>
#include <string_view>

#include "apiserver/pod_streams.h"
#include "cmd/asbd/node_proxy.h"
#include "cmd/asbd/pod_dialer.h"
#include "node/node_agent.h"
#include "runtime/native/native_runtime.h"
#include "runtime/runsc/runsc_runtime.h"

namespace asb::asbd {

class NodePodStreams final : public apiserver::PodStreams {
 public:
  // Every dial (exec, attach, port-forward) goes through `dialer`, which knows mirror pods.
  NodePodStreams(std::string state_dir, PodDialer& dialer)
      : state_dir_(std::move(state_dir)), dialer_(dialer) {}

  void Attach(node::NodeAgent* node, runtime::native::NativeRuntime* native,
              runtime::runsc::RunscRuntime* gvisor);

  Result<UniqueFd> DialPod(const std::string& ns, const std::string& pod, uint16_t port) override;
  Result<apiserver::PodLogFiles> LogFiles(const std::string& ns, const std::string& pod) override;
  // A pod bound to a node other than the attached one: forwarded to that node's /containerLogs
  // through `proxy` (AttachRemote). The local node's pods are read here, without a hop.
  std::optional<http::Response> RemoteLog(const Json& pod, const std::string& container,
                                          const http::Request& req) override;
  // Pods on `asbd node` processes (the split topology); nullptr detaches. `local_node`: the
  // name of this process's node ("" without one), whose pods never take the hop.
  void AttachRemote(NodeProxy* proxy, std::string local_node);

  // The node's hooks (NodeOptions::on_container_exited / on_pod_forgotten).
  void SavePrevious(const std::string& uid, const std::string& sandbox_id,
                    std::string_view runtime);
  void Forget(const std::string& uid);

 private:
  std::string CurrentLog(const std::string& sandbox_id, std::string_view runtime);
  std::string PreviousLog(const std::string& uid) const;

  const std::string state_dir_;
  PodDialer& dialer_;
  std::shared_mutex mu_;
  node::NodeAgent* node_ = nullptr;                   // guarded by mu_
  runtime::native::NativeRuntime* native_ = nullptr;  // guarded by mu_
  runtime::runsc::RunscRuntime* gvisor_ = nullptr;    // guarded by mu_
  NodeProxy* proxy_ = nullptr;                        // guarded by mu_
  std::string local_node_;                            // guarded by mu_
};

}  // namespace asb::asbd
