// The API server's PodStreams in the embedded daemon: dials through the node agent and finds a
// pod's output where its runtime writes it today (native: <state>/native/<id>/output.log,
// gvisor: <state>/runsc/<id>/console.log).
//
// The API server starts before the node, so the node is attached later; Attach(nullptr) at
// shutdown waits for calls in flight and makes later ones fail with kUnavailable.
#pragma once

#include <shared_mutex>
#include <string>

#include "apiserver/pod_streams.h"
#include "node/node_agent.h"
#include "runtime/native/native_runtime.h"
#include "runtime/runsc/runsc_runtime.h"

namespace asb::asbd {

class NodePodStreams final : public apiserver::PodStreams {
 public:
  void Attach(node::NodeAgent* node, runtime::native::NativeRuntime* native,
              runtime::RunscRuntime* gvisor);

  Result<UniqueFd> DialPod(const std::string& ns, const std::string& pod, uint16_t port) override;
  Result<apiserver::PodLogFiles> LogFiles(const std::string& ns, const std::string& pod) override;

 private:
  std::shared_mutex mu_;
  node::NodeAgent* node_ = nullptr;                   // guarded by mu_
  runtime::native::NativeRuntime* native_ = nullptr;  // guarded by mu_
  runtime::RunscRuntime* gvisor_ = nullptr;           // guarded by mu_
};

}  // namespace asb::asbd
