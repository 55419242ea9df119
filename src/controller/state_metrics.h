// Gauges of stored state, computed from the store at every scrape of /metrics (as upstream's
// SandboxCollector does, so no writer has to keep them up to date):
//
//   agent_sandboxes{namespace,ready_condition,expired,launch_type,sandbox_template,owned_by,
//                   created_by}                           upstream's name and labels
//   agent_sandbox_warmpool_replicas{namespace,warmpool}       status.replicas of each pool
//   agent_sandbox_warmpool_ready_replicas{namespace,warmpool} status.readyReplicas
//
// (Upstream has no warm pool metrics; these names follow its agent_sandbox_ prefix.)
// A scrape lists the Sandboxes and pools once: O(objects), off every hot path.
#pragma once

#include "metrics/metrics.h"
#include "store/store.h"

namespace asb::controller {

class StateMetrics {
 public:
  // Registers the collectors in metrics::Registry::Default() until destroyed. `store` must
  // outlive this object.
  explicit StateMetrics(store::Store& store);

 private:
  std::vector<metrics::GaugeSample> Sandboxes();
  std::vector<metrics::GaugeSample> Pools(bool ready);

  store::Store& store_;
  metrics::Registry::CollectorHandle sandboxes_, pool_replicas_, pool_ready_;
};

}  // namespace asb::controller
