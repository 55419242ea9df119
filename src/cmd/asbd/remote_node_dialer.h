// How asbd's API server reaches a pod that runs on another process (`asbd node`), as
// kube-apiserver reaches a kubelet: the pod's spec.nodeName names a Node; its InternalIP and
// status.daemonEndpoints.kubeletEndpoint.Port are the node's stream port, where
// `POST /asb/v1/dial/NS/POD/PORT` with `Upgrade: asb-tcp` and the API token becomes a byte relay
// to the pod (node_streams.h). Used by PodDialer for kubectl exec, attach and port-forward.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "base/json_util.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "store/store.h"

namespace asb::asbd {

class RemoteNodeDialer {
 public:
  // `store` must outlive this; `token` is sent as the bearer token.
  RemoteNodeDialer(store::Store& store, std::string token)
      : store_(store), token_(std::move(token)) {}

  // A connection to `port` inside `pod` (its stored object). kUnavailable: not bound to a node
  // yet, the node is unreachable or says the pod is not running; kNotFound: the node has no such
  // pod or Node; kInternal: the node's dial failed or it answered something else.
  [[nodiscard]] Result<UniqueFd> Dial(const Json& pod, uint16_t port);

 private:
  store::Store& store_;
  const std::string token_;
};

}  // namespace asb::asbd
