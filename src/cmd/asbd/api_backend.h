// The router's Backend when the router does not run beside the node (`asbd router`, or
// `asbd serve --roles apiserver,router`): X-Sandbox-ID names a Sandbox, which must be Ready;
// the connection goes to its status.podIPs[0] (an address on the host bridge of the node that
// runs it), as upstream's router dials the sandbox's pod. Sandboxes come from a watch cache over
// any store (the REST API, or the in-process store); a miss or a not-yet-Ready entry is read
// from the server before answering, so a claim that just became Ready is routed at once.
#pragma once

#include <chrono>

#include "kube/watch_cache.h"
#include "router/backend.h"
#include "store/store.h"

namespace asb::asbd {

class ApiBackend final : public router::Backend {
 public:
  // `store` must outlive this. Starts the cache. Thread-safe.
  explicit ApiBackend(store::Store& store);
  ~ApiBackend() override;

  // Waits until the cache holds its first list (false on timeout; Connect works before, by
  // reading the server).
  bool WaitSynced(std::chrono::milliseconds timeout) { return cache_.WaitSynced(timeout); }

  // kNotFound: no such Sandbox. kFailedPrecondition: not Ready, or Ready without a pod IP (the
  // node runs with podNetwork "none"). kUnavailable and others from the dial (502).
  Result<UniqueFd> Connect(const std::string& ns, const std::string& sandbox_id,
                           uint16_t port) override {
    return ConnectTimed(ns, sandbox_id, port, nullptr);
  }
  Result<UniqueFd> ConnectTimed(const std::string& ns, const std::string& sandbox_id, uint16_t port,
                                router::ConnectTiming* timing) override;

 private:
  store::Store& store_;
  kube::WatchCache cache_;
};

}  // namespace asb::asbd
