#include "controller/warm_pool_reconciler.h"

#include "api/resource.h"
#include "api/views.h"
#include "base/log.h"
#include "controller/object_util.h"
#include "controller/store_ops.h"

namespace asb::controller {

Result<Requeue> WarmPoolReconciler::Reconcile(const std::string& key) {
  std::string ns, name;
  if (!SplitKey(key, &ns, &name)) return MakeError(Code::kInvalidArgument, "bad key " + key);
  const api::ResourceInfo& pool_res = api::SandboxWarmPoolResource();
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pool, GetIfExists(store_, pool_res, ns, name));
  // Gone or going: members carry an ownerReference, the store's GC removes them.
  if (!pool || IsDeleting(*pool)) return Requeue::None();

  std::string tmpl_name = GetString(*pool, "spec.sandboxTemplateRef.name");
  std::optional<store::Object> tmpl;
  if (!tmpl_name.empty()) {
    ASB_ASSIGN_OR_RETURN(tmpl, GetIfExists(store_, api::SandboxTemplateResource(), ns, tmpl_name));
  }

  store::ListOptions lo;
  lo.label_selector = PoolSelector(name);
  ASB_ASSIGN_OR_RETURN(store::ListResult listed, store_.List(api::SandboxResource(), ns, lo));
  std::vector<PoolMember> members;
  for (const store::Object& sb : listed.items) {
    // A member adopted by a claim is no longer controlled by us even if a label lingers.
    if (IsControlledBy(sb, *pool))
      members.push_back(MemberFromSandbox(sb, tmpl ? &*tmpl : nullptr));
  }

  const SystemTime now = clock_.Now();
  int64_t desired = api::WarmPoolReplicas(*pool);
  PoolPlanOptions plan_options = options_;
  plan_options.recreate_stale = GetString(*pool, "spec.updateStrategy.type") == "Recreate";
  PoolPlan plan = PlanPool(desired, std::move(members), tmpl.has_value(), now, plan_options);

  Status acted = [&]() -> Status {
    for (const PoolMember& m : plan.to_delete) {
      ASB_LOG(INFO, "deleting pool member", "pool", key, "sandbox", m.name, "ready", m.ready,
              "failed", m.failed);
      // A kAborted here means the member changed (e.g. a claim adopted it): the queue retries
      // with a fresh List.
      ASB_RETURN_IF_ERROR(
          DeleteIfExists(store_, api::SandboxResource(), ns, m.name, m.uid, m.resource_version));
    }
    for (int i = 0; i < plan.create; ++i) {
      auto created = store_.Create(api::SandboxResource(), BuildPoolMember(*pool, *tmpl));
      if (!created) return tl::unexpected(created.error().Wrap("create pool member"));
    }
    return OkStatus();
  }();

  Json status = Find(*pool, "status") ? (*pool)["status"] : Json::object();
  if (!status.is_object()) status = Json::object();
  status["replicas"] = plan.replicas;
  status["readyReplicas"] = plan.ready_replicas;
  status["selector"] = PoolSelector(name);
  status["observedGeneration"] = Generation(*pool);
  Result<bool> wrote = WriteStatusIfChanged(store_, pool_res, *pool, status);
  if (!wrote && wrote.error().code != Code::kNotFound) return tl::unexpected(wrote.error());
  if (!acted) return tl::unexpected(acted.error());
  if (!tmpl) {
    ASB_LOG(WARN, "warm pool template not found", "pool", key, "template", tmpl_name);
    return Requeue::Earliest(plan.requeue, Requeue::After(std::chrono::minutes(1)));
  }
  return plan.requeue;
}

}  // namespace asb::controller
