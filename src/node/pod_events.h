// Core v1 Events about pods, as a kubelet records them, so `kubectl describe pod` and
// `kubectl get events` show what the node did: Scheduled, Pulled, Created, Started, Unhealthy,
// Killing, BackOff, Failed.
//
// Best effort: a failed write is logged, never fails a sync. Each event has an ownerReference to
// its pod, so the store's GC removes it with the pod (the embedded store has no event TTL).
// Thread-safe.
#pragma once

#include <string_view>

#include "base/clock.h"
#include "base/json_util.h"
#include "store/store.h"

namespace asb::node {

class PodEvents {
 public:
  PodEvents(store::Store& store, Clock& clock, std::string node_name)
      : store_(store), clock_(clock), node_name_(std::move(node_name)) {}

  void Normal(const Json& pod, std::string_view reason, std::string_view message) {
    Record(pod, "Normal", reason, message);
  }
  void Warning(const Json& pod, std::string_view reason, std::string_view message) {
    Record(pod, "Warning", reason, message);
  }
  // Scheduled comes from the scheduler in Kubernetes; here the node binds pods itself.
  void Scheduled(const Json& pod);

 private:
  void Record(const Json& pod, std::string_view type, std::string_view reason,
              std::string_view message, std::string_view component = "kubelet");

  store::Store& store_;
  Clock& clock_;
  const std::string node_name_;
};

}  // namespace asb::node
