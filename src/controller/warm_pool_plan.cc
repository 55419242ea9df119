#include "controller/warm_pool_plan.h"

#include <algorithm>

#include "api/resource.h"
#include "controller/conditions.h"
#include "controller/object_util.h"

namespace asb::controller {

PoolMember MemberFromSandbox(const Json& sandbox, const Json* tmpl) {
  PoolMember m;
  if (tmpl) {
    const Json* want = Find(*tmpl, "spec.podTemplate");
    const Json* have = Find(sandbox, "spec.podTemplate");
    m.stale = Label(sandbox, kLabelTemplateRefHash) != NameHash(Name(*tmpl)) ||
              (want && have && *want != *have) || (want == nullptr) != (have == nullptr);
  }
  m.name = Name(sandbox);
  m.uid = Uid(sandbox);
  m.resource_version = GetString(sandbox, "metadata.resourceVersion");
  m.created = CreationTime(sandbox).value_or(SystemTime{});
  m.deleting = IsDeleting(sandbox);
  m.not_ready_since = m.created;
  if (const Json* ready = FindCondition(sandbox, kCondReady)) {
    m.ready = GetString(*ready, "status") == "True";
    m.failed = !m.ready && GetString(*ready, "reason") == kReasonPodFailed;
    if (!m.ready) {
      if (auto t = ParseRfc3339(GetString(*ready, "lastTransitionTime")))
        m.not_ready_since = std::max(*t, m.created);
    }
  }
  return m;
}

PoolPlan PlanPool(int64_t desired, std::vector<PoolMember> members, bool can_create, SystemTime now,
                  const PoolPlanOptions& options) {
  PoolPlan plan;
  if (desired < 0) desired = 0;
  std::vector<PoolMember> active;
  for (PoolMember& m : members) {
    if (m.deleting) continue;
    bool stuck = !m.ready && now - m.not_ready_since >= options.readiness_grace;
    if (m.failed || stuck || (m.stale && options.recreate_stale)) {
      plan.to_delete.push_back(std::move(m));
      continue;
    }
    active.push_back(std::move(m));
  }
  // Scale down: unready first, then newest first (keep the warmest, oldest members).
  if (static_cast<int64_t>(active.size()) > desired) {
    std::stable_sort(active.begin(), active.end(), [](const PoolMember& a, const PoolMember& b) {
      if (a.ready != b.ready) return !a.ready;
      if (a.created != b.created) return a.created > b.created;
      return a.name > b.name;
    });
    size_t excess = active.size() - static_cast<size_t>(desired);
    for (size_t i = 0; i < excess; ++i) plan.to_delete.push_back(active[i]);
    active.erase(active.begin(), active.begin() + static_cast<std::ptrdiff_t>(excess));
  }
  int64_t deficit = desired - static_cast<int64_t>(active.size());
  if (can_create && deficit > 0) {
    plan.create = static_cast<int>(std::min<int64_t>(deficit, std::max(1, options.max_batch)));
    if (plan.create < deficit) plan.requeue = Requeue::After(Duration(0));
    // New members start their readiness grace now.
    plan.requeue =
        Requeue::Earliest(plan.requeue, Requeue::After(options.readiness_grace + Duration(1)));
  }
  plan.replicas = static_cast<int64_t>(active.size()) + plan.create;
  for (const PoolMember& m : active) {
    if (m.ready) {
      ++plan.ready_replicas;
      continue;
    }
    Duration until_stuck =
        std::chrono::duration_cast<Duration>(m.not_ready_since + options.readiness_grace - now);
    plan.requeue = Requeue::Earliest(plan.requeue, Requeue::After(until_stuck + Duration(1)));
  }
  return plan;
}

std::string PoolSelector(const std::string& pool_name) {
  return std::string(kLabelWarmPoolSandbox) + "=" + NameHash(pool_name);
}

Json BuildPoolMember(const Json& pool, const Json& tmpl) {
  const std::string pool_name = Name(pool);
  const std::string tmpl_name = Name(tmpl);
  Json sb = {{"apiVersion", api::SandboxResource().ApiVersion()},
             {"kind", "Sandbox"},
             {"metadata",
              {{"generateName", pool_name + "-"},
               {"namespace", Namespace(pool)},
               {"labels",
                {{std::string(kLabelWarmPoolSandbox), NameHash(pool_name)},
                 {std::string(kLabelTemplateRefHash), NameHash(tmpl_name)},
                 {std::string(kLabelLaunchType), std::string(kLaunchWarm)},
                 {std::string(kLabelCreatedBy), std::string(kCreatedByController)}}},
               {"annotations", {{std::string(kAnnotationTemplateRef), tmpl_name}}},
               {"ownerReferences",
                Json::array({MakeControllerRef(api::SandboxWarmPoolResource(), pool)})}}},
             {"spec", {{"operatingMode", "Running"}}}};
  if (const Json* pt = Find(tmpl, "spec.podTemplate")) sb["spec"]["podTemplate"] = *pt;
  if (const Json* svc = Find(tmpl, "spec.service")) sb["spec"]["service"] = *svc;
  if (const Json* vct = Find(tmpl, "spec.volumeClaimTemplates"))
    sb["spec"]["volumeClaimTemplates"] = *vct;
  return sb;
}

}  // namespace asb::controller
