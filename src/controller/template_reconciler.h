// SandboxTemplate controller (upstream-agent-sandbox.md §2.4): ensures every template carries the
// agents.x-k8s.io/sandbox-template-ref-hash label. NetworkPolicy objects are not served in
// embedded mode (sandboxes have only loopback networking by default), so the managed
// NetworkPolicy part of upstream's controller is intentionally absent. Thread-safe.
#pragma once

#include <string>

#include "base/keyed_queue.h"
#include "store/store.h"

namespace asb::controller {

class TemplateReconciler {
 public:
  explicit TemplateReconciler(store::Store& store) : store_(store) {}
  // key = "namespace/name". Idempotent.
  Result<Requeue> Reconcile(const std::string& key);

 private:
  store::Store& store_;
};

}  // namespace asb::controller
