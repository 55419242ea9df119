// Sandbox controller: Sandbox -> Pod (+ headless Service), suspension (replicas 0/1), expiry
// (shutdownTime + shutdownPolicy), and status (Ready, serviceFQDN, podIPs, selector, replicas).
// Reads from the store, plans with PlanSandbox (sandbox_plan.h), acts, writes status only when it
// changed. Thread-safe; meant to be driven by a KeyedQueue (one worker per key).
#pragma once

#include <string>

#include "base/clock.h"
#include "base/keyed_queue.h"
#include "controller/sandbox_plan.h"
#include "store/store.h"

namespace asb::controller {

class SandboxReconciler {
 public:
  SandboxReconciler(store::Store& store, Clock& clock, SandboxOptions options)
      : store_(store), clock_(clock), options_(std::move(options)) {}

  // key = "namespace/name". Idempotent. Errors are store failures; the queue retries them.
  Result<Requeue> Reconcile(const std::string& key);

 private:
  store::Store& store_;
  Clock& clock_;
  const SandboxOptions options_;
};

}  // namespace asb::controller
