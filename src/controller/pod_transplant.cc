#include "controller/pod_transplant.h"

#include "api/resource.h"
#include "base/log.h"
#include "controller/claim_plan.h"
#include "controller/object_util.h"
#include "controller/sandbox_plan.h"
#include "controller/sandbox_volumes.h"
#include "controller/store_ops.h"

namespace asb::controller {

Json ClaimSandboxFromMember(const Json& member, const Json& claim) {
  Json labels = Json::object();
  for (const auto& [k, v] : Labels(member))
    if (k != kLabelWarmPoolSandbox) labels[k] = v;
  labels[std::string(kLabelLaunchType)] = std::string(kLaunchWarm);
  labels[std::string(kLabelClaimUid)] = Uid(claim);
  if (auto cb = Label(claim, kLabelCreatedBy)) labels[std::string(kLabelCreatedBy)] = *cb;
  Json annotations = Json::object();
  for (const auto& [k, v] : Annotations(member)) annotations[k] = v;
  annotations[std::string(kAnnotationPodName)] =
      Annotation(member, kAnnotationPodName).value_or(Name(member));
  Json sb = {
      {"apiVersion", api::SandboxResource().ApiVersion()},
      {"kind", "Sandbox"},
      {"metadata",
       {{"name", Name(claim)},
        {"namespace", Namespace(claim)},
        {"labels", labels},
        {"annotations", annotations},
        {"ownerReferences", Json::array({MakeControllerRef(api::SandboxClaimResource(), claim)})}}},
      {"spec", member.contains("spec") ? member["spec"] : Json::object()}};
  MergeAdditionalPodMetadata(sb, claim);
  return sb;
}

namespace {

// The new Sandbox starts with the member's status (it runs the same pod), renamed; its own
// reconciler keeps it up to date from then on.
Json InheritedStatus(const Json& member, const Json& sandbox) {
  Json status = Find(member, "status") ? member["status"] : Json::object();
  if (!status.is_object()) status = Json::object();
  const std::string name = Name(sandbox);
  status["selector"] = std::string(kLabelSandboxNameHash) + "=" + NameHash(name);
  status["observedGeneration"] = Generation(sandbox);
  std::string fqdn = GetString(status, "serviceFQDN");
  if (!fqdn.empty()) {
    status["service"] = name;
    size_t dot = fqdn.find('.');
    status["serviceFQDN"] = name + (dot == std::string::npos ? "" : fqdn.substr(dot));
  }
  if (status.contains("conditions") && status["conditions"].is_array())
    for (Json& c : status["conditions"]) c["observedGeneration"] = Generation(sandbox);
  return status;
}

// In `txn`: what follows the member to `sandbox`: its volume claims, its pod (new owner, and the
// pod labels and Service the new Sandbox's first reconcile would write).
Status MovePodAndService(store::Txn& txn, const Json& member, const store::Object& sandbox,
                         SystemTime now) {
  const std::string ns = Namespace(member);
  const api::ResourceInfo& sb_res = api::SandboxResource();
  // The member's volume claims follow it, or the garbage collector would take them with it.
  ASB_RETURN_IF_ERROR(MoveClaims(txn, member, sandbox));

  // The pod as the store holds it now (nothing else writes during the transaction, so this
  // compare-and-set can't conflict). A pod that isn't the member's (gone, or never made) is the
  // new Sandbox's reconciler's business.
  std::string pod_name = Annotation(member, kAnnotationPodName).value_or(Name(member));
  auto pod = txn.Get(api::PodResource(), ns, pod_name);
  if (!pod && pod.error().code != Code::kNotFound) return tl::unexpected(pod.error());
  if (!pod || !IsControlledBy(*pod, member)) return OkStatus();
  SetControllerRef(*pod, MakeControllerRef(sb_res, sandbox));
  // In the same write, what the new Sandbox's reconciler would do first: its pod's labels (the
  // new name hash, no pool label) and its Service named like it. That is two commits, and the
  // two reconciles their events would wake, fewer per claim.
  auto service = txn.Get(api::ServiceResource(), ns, Name(sandbox));
  if (!service && service.error().code != Code::kNotFound) return tl::unexpected(service.error());
  // Moved, not copied, into the plan's inputs: pods are large and this is the claim's hot path.
  std::optional<Json> moved_pod(std::move(*pod));
  std::optional<Json> existing_service;
  if (service) existing_service = std::move(*service);
  SandboxPlan plan = PlanSandbox(sandbox, moved_pod, existing_service, now, {});
  // The *Shared writes: their answers are only checked, so the pod isn't copied back.
  ASB_RETURN_IF_ERROR(txn.UpdateShared(api::PodResource(),
                                       std::move(plan.update_pod ? *plan.update_pod : *moved_pod)));
  if (plan.create_service)
    ASB_RETURN_IF_ERROR(txn.CreateShared(api::ServiceResource(), std::move(*plan.create_service)));
  return OkStatus();
}

}  // namespace

Json TakeOverSandbox(const Json& member, const Json& claim) {
  // Born with the member's status, in the same write (the store sets generation 1 at create,
  // which the inherited status observes).
  Json desired = ClaimSandboxFromMember(member, claim);
  desired["metadata"]["generation"] = 1;
  desired["status"] = InheritedStatus(member, desired);
  return desired;
}

Result<store::Object> TakeOverMember(store::Txn& txn, const Json& member, Json desired,
                                     SystemTime now) {
  const std::string ns = Namespace(member);
  const api::ResourceInfo& sb_res = api::SandboxResource();
  ASB_ASSIGN_OR_RETURN(store::Object sandbox,
                       txn.Create(sb_res, std::move(desired), {.keep_status = true}));
  Status moved = MovePodAndService(txn, member, sandbox, now);
  if (!moved) return tl::unexpected(moved.error());
  store::DeleteOptions cas;
  cas.precondition_uid = Uid(member);
  cas.precondition_resource_version = GetString(member, "metadata.resourceVersion");
  ASB_RETURN_IF_ERROR(txn.DeleteShared(sb_res, ns, Name(member), cas));
  return sandbox;
}

Result<store::Object> TakeOverMemberStepwise(store::Store& store, const Json& member,
                                             const Json& claim, bool* claimed_out) {
  const std::string ns = Namespace(member);
  const api::ResourceInfo& sb_res = api::SandboxResource();
  store::Object claimed = member;
  if (!IsControlledBy(member, claim)) {
    Json next = member;  // carries the resourceVersion it was listed at: the compare-and-set
    SetControllerRef(next, MakeControllerRef(api::SandboxClaimResource(), claim));
    next["metadata"]["labels"].erase(std::string(kLabelWarmPoolSandbox));
    next["metadata"]["labels"][std::string(kLabelClaimUid)] = Uid(claim);
    ASB_ASSIGN_OR_RETURN(claimed, store.Update(sb_res, std::move(next)));
    if (Uid(claimed) != Uid(member))
      return MakeError(Code::kAborted, "sandbox " + Name(member) + " was replaced");
  }
  if (claimed_out) *claimed_out = true;

  Json desired = ClaimSandboxFromMember(claimed, claim);
  desired["metadata"]["generation"] = 1;
  desired["status"] = InheritedStatus(claimed, desired);
  store::Object sandbox;
  auto created = store.Create(sb_res, std::move(desired), {.keep_status = true});
  if (created) {
    sandbox = std::move(*created);
  } else if (created.error().code == Code::kAlreadyExists) {
    ASB_ASSIGN_OR_RETURN(sandbox, store.Get(sb_res, ns, Name(claim)));
    if (!IsControlledBy(sandbox, claim))
      return MakeError(Code::kFailedPrecondition,
                       "Sandbox \"" + Name(claim) + "\" exists and is not owned by this claim");
  } else {
    return tl::unexpected(created.error().Wrap("create claim's sandbox"));
  }

  std::string pod_name = Annotation(claimed, kAnnotationPodName).value_or(Name(claimed));
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pod,
                       GetIfExists(store, api::PodResource(), ns, pod_name));
  if (pod) {
    ASB_RETURN_IF_ERROR(TakeOverPod(store, sandbox, *pod));
  } else {
    // No pod to move: the member goes (its claims follow the new Sandbox first).
    ASB_RETURN_IF_ERROR(MoveClaims(store, claimed, sandbox));
    ASB_RETURN_IF_ERROR(DeleteIfExists(store, sb_res, ns, Name(claimed), Uid(claimed)));
  }
  return sandbox;
}

Result<std::optional<store::Object>> TakeOverPod(store::Store& store, const Json& sandbox,
                                                 const Json& pod) {
  auto owner = ControllerRef(sandbox);
  auto pod_owner = ControllerRef(pod);
  // Only the Sandbox named like its claim takes over, never the other way round.
  if (!owner || owner->kind != "SandboxClaim" || owner->name != Name(sandbox) || !pod_owner ||
      pod_owner->kind != "Sandbox" || pod_owner->uid == Uid(sandbox))
    return std::optional<store::Object>();
  const std::string ns = Namespace(sandbox);
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> member,
                       GetIfExists(store, api::SandboxResource(), ns, pod_owner->name));
  if (!member || Uid(*member) != pod_owner->uid) return std::optional<store::Object>();
  auto member_owner = ControllerRef(*member);
  if (!member_owner || member_owner->uid != owner->uid) return std::optional<store::Object>();

  // The pod first (so deleting the member can't cascade to it), compare-and-set: the node agent
  // writes pod status concurrently, so re-read on a conflict.
  std::optional<store::Object> moved;
  store::Object current = pod;
  for (int attempt = 0; attempt < 8 && !moved; ++attempt) {
    if (IsControlledBy(current, sandbox)) {
      moved = current;
      break;
    }
    if (!IsControlledBy(current, *member)) return std::optional<store::Object>();
    Json next = current;
    SetControllerRef(next, MakeControllerRef(api::SandboxResource(), sandbox));
    auto updated = store.Update(api::PodResource(), std::move(next));
    if (updated) {
      moved = std::move(*updated);
    } else if (updated.error().code == Code::kAborted) {
      ASB_ASSIGN_OR_RETURN(std::optional<store::Object> fresh,
                           GetIfExists(store, api::PodResource(), ns, Name(pod)));
      if (!fresh) return std::optional<store::Object>();
      current = std::move(*fresh);
    } else {
      return tl::unexpected(updated.error().Wrap("move pod " + Name(pod)));
    }
  }
  if (!moved) return MakeError(Code::kAborted, "pod " + Name(pod) + " kept changing");
  // The member's volume claims follow its pod, or deleting the member would take them.
  ASB_RETURN_IF_ERROR(MoveClaims(store, *member, sandbox));
  ASB_RETURN_IF_ERROR(
      DeleteIfExists(store, api::SandboxResource(), ns, Name(*member), Uid(*member)));
  ASB_LOG(DEBUG, "sandbox took over warm pod", "sandbox", KeyOf(sandbox), "pod", Name(pod),
          "member", Name(*member));
  return moved;
}

}  // namespace asb::controller
