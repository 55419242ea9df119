#include "controller/sandbox_reconciler.h"

#include "api/resource.h"
#include "base/log.h"
#include "controller/object_util.h"
#include "controller/pod_transplant.h"
#include "controller/sandbox_volumes.h"
#include "controller/store_ops.h"

namespace asb::controller {

Result<Requeue> SandboxReconciler::Reconcile(const std::string& key) {
  std::string ns, name;
  if (!SplitKey(key, &ns, &name)) return MakeError(Code::kInvalidArgument, "bad key " + key);
  const api::ResourceInfo& sb_res = api::SandboxResource();
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sandbox, GetIfExists(store_, sb_res, ns, name));
  // Deleted, or being deleted: owner references let the store's GC remove pod and service.
  if (!sandbox || IsDeleting(*sandbox)) return Requeue::None();

  std::string pod_name = Annotation(*sandbox, kAnnotationPodName).value_or(name);
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pod,
                       GetIfExists(store_, api::PodResource(), ns, pod_name));
  if (pod && !IsControlledBy(*pod, *sandbox)) {
    // A claim's Sandbox taking over its adopted warm member's pod (pod_transplant.h).
    ASB_ASSIGN_OR_RETURN(std::optional<store::Object> moved, TakeOverPod(store_, *sandbox, *pod));
    if (moved) pod = std::move(moved);
  }
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> service,
                       GetIfExists(store_, api::ServiceResource(), ns, name));

  const SystemTime now = clock_.Now();
  SandboxPlan plan = PlanSandbox(*sandbox, pod, service, now, options_);
  if (plan.status_first) {
    ASB_RETURN_IF_ERROR(WriteStatusIfChanged(store_, sb_res, *sandbox, plan.status));
  }

  // Act. The first failure stops the remaining actions; status reports it and the queue retries.
  Status acted = [&]() -> Status {
    if (plan.delete_pod)
      ASB_RETURN_IF_ERROR(
          DeleteIfExists(store_, api::PodResource(), ns, *plan.delete_pod, plan.delete_pod_uid));
    if (plan.delete_service)
      ASB_RETURN_IF_ERROR(DeleteIfExists(store_, api::ServiceResource(), ns, *plan.delete_service,
                                         plan.delete_service_uid));
    if (plan.delete_sandbox) {
      ASB_LOG(INFO, "sandbox expired, deleting", "key", key);
      return DeleteIfExists(store_, sb_res, ns, name, Uid(*sandbox));
    }
    // The volume claims come before the pod that mounts them (sandbox_volumes.h).
    if (Find(*sandbox, "spec.volumeClaimTemplates")) {
      ASB_ASSIGN_OR_RETURN(std::string waiting, EnsureClaims(store_, *sandbox));
      if (!waiting.empty() && plan.create_pod) {
        plan.create_pod.reset();
        if (Json& conds = plan.status["conditions"]; conds.is_array())
          for (Json& c : conds)
            if (GetString(c, "type") == "Ready") c["message"] = "Waiting: " + waiting;
      }
    }
    if (plan.create_service) {
      auto r = store_.Create(api::ServiceResource(), *plan.create_service);
      if (!r && r.error().code != Code::kAlreadyExists) return tl::unexpected(r.error());
    }
    if (plan.create_pod) {
      auto r = store_.Create(api::PodResource(), *plan.create_pod);
      if (!r) return tl::unexpected(r.error().Wrap("create pod"));
      ASB_LOG(DEBUG, "created pod", "key", key);
    }
    if (plan.update_pod) {
      auto r = store_.Update(api::PodResource(), *plan.update_pod);
      if (!r) return tl::unexpected(r.error().Wrap("update pod metadata"));
    }
    if (plan.update_sandbox) {
      auto r = store_.Update(sb_res, *plan.update_sandbox);
      if (!r) return tl::unexpected(r.error().Wrap("update sandbox metadata"));
      *sandbox = std::move(*r);
    }
    return OkStatus();
  }();

  if (plan.delete_sandbox && acted) return Requeue::None();
  if (!acted && acted.error().code == Code::kAborted) {
    // A conflict (the node wrote the pod's status between our read and our write) is not an
    // error to show in the Sandbox's status or to back off from: read again and redo the plan.
    ASB_LOG(DEBUG, "sandbox reconcile conflict, retrying", "key", key, "error",
            acted.error().message);
    return Requeue::After(Duration(0));
  }
  if (!plan.status_first) {
    Json status =
        acted ? plan.status : ErrorStatus(*sandbox, plan.status, acted.error().message, now);
    Result<bool> wrote = WriteStatusIfChanged(store_, sb_res, *sandbox, status);
    if (!wrote && wrote.error().code != Code::kNotFound) return tl::unexpected(wrote.error());
  }
  if (!acted) return tl::unexpected(acted.error());
  return plan.requeue;
}

}  // namespace asb::controller
