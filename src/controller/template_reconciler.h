// SandboxTemplate controller (upstream-agent-sandbox.md §2.4): ensures every template carries the
// agents.x-k8s.io/sandbox-template-ref-hash label. Upstream's controller also creates a managed
// NetworkPolicy object per template; embedded asbd serves no NetworkPolicy kind, and the node
// enforces the template's spec.networkPolicy itself in nftables (cmd/asbd/template_policies.h,
// docs/network.md), so that part is absent here. Thread-safe.
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
