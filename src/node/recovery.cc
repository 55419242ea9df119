#include "node/recovery.h"

#include <map>

#include "api/object_meta.h"
#include "base/log.h"
#include "node/pod_spec.h"

namespace asb::node {

runtime::Runtime* Recovery::Wanted(const Json* pod) const {
  if (pod == nullptr || GetString(*pod, "spec.nodeName") != node_name_ || api::IsDeleting(*pod)) {
    return nullptr;
  }
  std::string phase = GetString(*pod, "status.phase");
  if (phase == "Succeeded" || phase == "Failed") return nullptr;
  auto plan = ParsePod(*pod);
  if (!plan) return nullptr;
  PodFailure ignored;
  return runtimes_.For(plan->runtime_class, &ignored);
}

Result<std::vector<RecoveredSandbox>> Recovery::Run(const std::vector<Json>& pods) const {
  std::map<std::string, const Json*> by_sandbox_id;
  for (const Json& pod : pods) {
    by_sandbox_id[SandboxIdForUid(GetString(pod, "metadata.uid"))] = &pod;
  }
  std::vector<RecoveredSandbox> found;
  for (runtime::Runtime* rt : runtimes_.distinct()) {
    auto ids = rt->List();
    if (!ids) {
      return tl::unexpected(ids.error().Wrap("listing " + std::string(rt->name()) + " sandboxes"));
    }
    for (const std::string& id : *ids) {
      auto it = by_sandbox_id.find(id);
      const Json* pod = it == by_sandbox_id.end() ? nullptr : it->second;
      if (Wanted(pod) != rt) {
        if (pod != nullptr && api::IsDeleting(*pod)) continue;
        ASB_LOG(INFO, "node: stopping orphaned sandbox", "runtime", rt->name(), "sandbox", id);
        if (auto st = rt->Stop(id, orphan_grace_); !st) {
          ASB_LOG(WARN, "node: stopping orphan failed", "sandbox", id, "error", st.error().message);
        }
        continue;
      }
      RecoveredSandbox r{.pod = pod, .runtime = rt, .sandbox_id = id, .running = std::nullopt};
      auto status = rt->Inspect(id);
      if (status && status->state == runtime::SandboxState::kRunning) {
        r.running = *status;
      } else if (auto st = rt->Stop(id, std::chrono::milliseconds(0)); !st) {
        // Dead leftover: removed here; the pod starts again as a restart.
        ASB_LOG(WARN, "node: removing dead sandbox failed", "sandbox", id, "error",
                st.error().message);
      }
      found.push_back(std::move(r));
    }
  }
  return found;
}

}  // namespace asb::node
