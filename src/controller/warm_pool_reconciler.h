// SandboxWarmPool controller: keeps spec.replicas member Sandboxes created from the pool's
// template; replaces failed and stuck members; scales down unready-first, newest-first; writes
// status replicas/readyReplicas/selector. Reads members from the store (authoritative, no cache),
// so upstream's "expectations" bookkeeping is not needed. Thread-safe; driven by a KeyedQueue.
#pragma once

#include <string>

#include "base/clock.h"
#include "base/keyed_queue.h"
#include "controller/warm_pool_plan.h"
#include "store/store.h"

namespace asb::controller {

class WarmPoolReconciler {
 public:
  WarmPoolReconciler(store::Store& store, Clock& clock, PoolPlanOptions options)
      : store_(store), clock_(clock), options_(options) {}

  // key = "namespace/name". Idempotent.
  Result<Requeue> Reconcile(const std::string& key);

 private:
  store::Store& store_;
  Clock& clock_;
  const PoolPlanOptions options_;
};

}  // namespace asb::controller
