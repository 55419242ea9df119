// The router's Backend in the embedded daemon: X-Sandbox-ID names a Sandbox; it must be Ready,
// and the connection is opened by the node (to the pod IP, or inside the pod's network namespace
// with podNetwork "none").
#pragma once

#include "node/node_agent.h"
#include "router/backend.h"
#include "store/store.h"

namespace asb::asbd {

class SandboxBackend final : public router::Backend {
 public:
  // `store` and `node` must outlive this. Thread-safe.
  SandboxBackend(store::Store& store, node::NodeAgent& node) : store_(store), node_(node) {}

  // kNotFound: no such Sandbox. kFailedPrecondition: it exists but isn't Ready (503).
  // kInternal: it is Ready but the dial failed (502).
  Result<UniqueFd> Connect(const std::string& ns, const std::string& sandbox_id,
                           uint16_t port) override {
    return ConnectTimed(ns, sandbox_id, port, nullptr);
  }
  // resolve: the Sandbox's store lookup and Ready check; the rest is the node's dial.
  Result<UniqueFd> ConnectTimed(const std::string& ns, const std::string& sandbox_id, uint16_t port,
                                router::ConnectTiming* timing) override;

 private:
  store::Store& store_;
  node::NodeAgent& node_;
};

}  // namespace asb::asbd
