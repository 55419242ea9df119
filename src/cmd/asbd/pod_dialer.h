// What pods/portforward dials in the embedded daemon. A pod the node runs is reached through the
// node (a socket opened inside the sandbox's network namespace); a mirror pod standing for an
// embedded component (mirror_pods.h) is reached in-process: the router's mirror pods get a
// connection the router serves as already authenticated, because opening the tunnel took the
// API token (kubectl port-forward svc/sandbox-router-svc is how upstream's clients reach it).
//
// The API server starts before the node and the router, so they are attached later; Detach
// (at shutdown) waits for dials in flight and makes later ones fail with kUnavailable.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"
#include "cmd/asbd/remote_node_dialer.h"
#include "node/node_agent.h"
#include "router/router_server.h"
#include "store/store.h"

namespace asb::asbd {

class PodDialer {
 public:
  explicit PodDialer(store::Store& store) : store_(store) {}

  void Attach(node::NodeAgent* node, router::RouterServer* router);
  // Pods this process's node does not run (the split topology: `asbd node` processes) are
  // dialed through their node's stream port.
  void AttachRemote(RemoteNodeDialer* remote);
  void Detach() {
    Attach(nullptr, nullptr);
    AttachRemote(nullptr);
  }

  // kNotFound: no such pod; kFailedPrecondition: nothing listens on that port of a mirror pod;
  // kUnavailable: shutting down; the node's errors otherwise (connection refused...).
  [[nodiscard]] Result<UniqueFd> Dial(const std::string& ns, const std::string& pod, uint16_t port);

 private:
  store::Store& store_;
  std::shared_mutex mu_;
  node::NodeAgent* node_ = nullptr;         // guarded by mu_
  router::RouterServer* router_ = nullptr;  // guarded by mu_
  RemoteNodeDialer* remote_ = nullptr;      // guarded by mu_
};

}  // namespace asb::asbd
