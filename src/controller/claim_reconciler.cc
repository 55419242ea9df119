#include "controller/claim_reconciler.h"

#include "api/resource.h"
#include "api/sandbox_claim.h"
#include "base/log.h"
#include "controller/claim_plan.h"
#include "controller/conditions.h"
#include "controller/events.h"
#include "controller/object_util.h"
#include "controller/store_ops.h"

namespace asb::controller {

std::vector<std::string> ClaimReconciler::UnboundClaims(const std::string& ns) const {
  std::lock_guard l(mu_);
  std::vector<std::string> out;
  std::string prefix = ns + "/";
  for (auto it = unbound_.lower_bound(prefix); it != unbound_.end(); ++it) {
    if (it->compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(*it);
  }
  return out;
}

void ClaimReconciler::SetUnbound(const std::string& key, bool unbound) {
  std::lock_guard l(mu_);
  if (unbound)
    unbound_.insert(key);
  else
    unbound_.erase(key);
}

Result<std::optional<store::Object>> ClaimReconciler::FindOwned(const store::Object& claim) {
  const std::string ns = Namespace(claim);
  const api::ResourceInfo& sb_res = api::SandboxResource();
  std::string bound = api::BoundSandboxName(claim);
  if (!bound.empty()) {
    ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sb, GetIfExists(store_, sb_res, ns, bound));
    if (sb && IsControlledBy(*sb, claim)) return sb;
  }
  // An adoption whose status write was lost (crash, conflict) is found by its claim-uid label.
  store::ListOptions lo;
  lo.label_selector = std::string(kLabelClaimUid) + "=" + Uid(claim);
  ASB_ASSIGN_OR_RETURN(store::ListResult listed, store_.List(sb_res, ns, lo));
  for (store::Object& sb : listed.items)
    if (IsControlledBy(sb, claim)) return std::optional<store::Object>(std::move(sb));
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> named,
                       GetIfExists(store_, sb_res, ns, Name(claim)));
  if (named && IsControlledBy(*named, claim)) return named;
  return std::optional<store::Object>();
}

Result<std::optional<store::Object>> ClaimReconciler::AdoptWarm(const store::Object& claim,
                                                                std::string* pool_key) {
  const std::string ns = Namespace(claim);
  store::ListOptions lo;
  lo.label_selector = CandidateSelector(claim);
  ASB_ASSIGN_OR_RETURN(store::ListResult listed, store_.List(api::SandboxResource(), ns, lo));
  for (const Json* cand : OrderCandidates(claim, listed.items)) {
    const Json& candidate = *cand;
    auto pool = ControllerRef(candidate);
    // Compare-and-set on the member's resourceVersion: if another claim (or the pool) wrote it
    // since our List, this fails with kAborted and we move on to the next candidate.
    auto adopted = store_.Update(api::SandboxResource(), AdoptedSandbox(candidate, claim));
    if (!adopted) {
      Code c = adopted.error().code;
      if (c == Code::kAborted || c == Code::kNotFound) continue;
      return tl::unexpected(adopted.error().Wrap("adopt " + Name(candidate)));
    }
    ASB_LOG(INFO, "claim adopted warm sandbox", "claim", KeyOf(claim), "sandbox", Name(candidate),
            "pool", pool ? pool->name : "");
    if (pool) *pool_key = MakeKey(ns, pool->name);
    return std::optional<store::Object>(std::move(*adopted));
  }
  return std::optional<store::Object>();
}

Result<Requeue> ClaimReconciler::Expire(const store::Object& claim, const std::string& policy) {
  const std::string ns = Namespace(claim);
  const SystemTime now = clock_.Now();
  Json status = Find(claim, "status") ? claim["status"] : Json::object();
  if (!status.is_object()) status = Json::object();
  status["observedGeneration"] = Generation(claim);
  const Json* c = Find(status, "conditions");
  status["conditions"] =
      SetCondition(c ? *c : Json::array(),
                   Condition{std::string(kCondReady), "False", std::string(kReasonClaimExpired),
                             "Claim expired", Generation(claim)},
                   now);
  ASB_ASSIGN_OR_RETURN(bool wrote,
                       WriteStatusIfChanged(store_, api::SandboxClaimResource(), claim, status));
  if (wrote && options_.record_events) {
    RecordEvent(store_, clock_, api::SandboxClaimResource(), claim, "Normal", "ClaimExpired",
                "Claim expired; ShutdownPolicy=" + policy);
  }
  if (policy == "Delete" || policy == "DeleteForeground") {
    store::DeleteOptions opts;
    opts.precondition_uid = Uid(claim);
    if (policy == "DeleteForeground") opts.propagation = store::Propagation::kForeground;
    auto del = store_.Delete(api::SandboxClaimResource(), ns, Name(claim), opts);
    if (!del && del.error().code != Code::kNotFound) return tl::unexpected(del.error());
    return Requeue::None();
  }
  // Retain: keep the claim, delete the sandbox it owns.
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sb, FindOwned(claim));
  if (sb)
    ASB_RETURN_IF_ERROR(DeleteIfExists(store_, api::SandboxResource(), ns, Name(*sb), Uid(*sb)));
  return Requeue::None();
}

Result<Requeue> ClaimReconciler::Reconcile(const std::string& key) {
  std::string ns, name;
  if (!SplitKey(key, &ns, &name)) return MakeError(Code::kInvalidArgument, "bad key " + key);
  const api::ResourceInfo& claim_res = api::SandboxClaimResource();
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> claim,
                       GetIfExists(store_, claim_res, ns, name));
  if (!claim || IsDeleting(*claim)) {
    SetUnbound(key, false);
    return Requeue::None();
  }
  const SystemTime now = clock_.Now();

  // Expiry: the earlier of lifecycle.shutdownTime and Finished + ttlSecondsAfterFinished.
  Requeue requeue;
  if (std::optional<SystemTime> at = ClaimExpiry(*claim)) {
    if (*at <= now) {
      SetUnbound(key, false);
      return Expire(*claim, GetString(*claim, "spec.lifecycle.shutdownPolicy", "Retain"));
    }
    requeue = Requeue::After(std::chrono::duration_cast<Duration>(*at - now) + Duration(1));
  }

  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sandbox, FindOwned(*claim));
  std::string_view reason;
  std::string message;
  std::pair<std::string, std::string> event;  // recorded after the status write (off the hot path)
  std::string adopted_from;                   // pool to refill, poked after the status write
  std::string bound = api::BoundSandboxName(*claim);
  if (!sandbox && !bound.empty()) {
    // The claim's sandbox went away (deleted by a user, or expired with shutdownPolicy Delete).
    // Its state is gone; quietly handing out a fresh sandbox would hide that from the client.
    SetUnbound(key, false);
    Json status = ClaimStatus(*claim, std::nullopt, now, kReasonSandboxMissing,
                              "Sandbox \"" + bound + "\" no longer exists");
    status["sandbox"] = {{"Name", bound}, {"name", bound}};
    Result<bool> wrote = WriteStatusIfChanged(store_, claim_res, *claim, status);
    if (!wrote && wrote.error().code != Code::kNotFound) return tl::unexpected(wrote.error());
    return requeue;
  }
  if (!sandbox && GetWarmPoolPolicy(*claim) != WarmPoolPolicy::kNone) {
    ASB_ASSIGN_OR_RETURN(sandbox, AdoptWarm(*claim, &adopted_from));
    if (sandbox) event = {"SandboxAdopted", "Adopted warm pool Sandbox " + Name(*sandbox)};
  }
  if (!sandbox) {
    std::string tmpl_name = GetString(*claim, "spec.sandboxTemplateRef.name");
    std::optional<store::Object> tmpl;
    if (!tmpl_name.empty()) {
      ASB_ASSIGN_OR_RETURN(tmpl,
                           GetIfExists(store_, api::SandboxTemplateResource(), ns, tmpl_name));
    }
    if (!tmpl) {
      reason = kReasonTemplateNotFound;
      message = tmpl_name.empty()
                    ? "spec.sandboxTemplateRef.name is empty"
                    : "SandboxTemplate \"" + tmpl_name + "\" not found in namespace \"" + ns + "\"";
      requeue = Requeue::Earliest(requeue, Requeue::After(options_.template_retry));
    } else {
      auto created = store_.Create(api::SandboxResource(), BuildColdSandbox(*claim, *tmpl));
      if (created) {
        sandbox = std::move(*created);
        ASB_LOG(INFO, "claim cold-started sandbox", "claim", key);
        event = {"SandboxProvisioned", "Created Sandbox " + Name(*sandbox)};
      } else if (created.error().code == Code::kAlreadyExists) {
        // FindOwned saw no owned sandbox with this name: it belongs to someone else.
        reason = kReasonReconcilerError;
        message = "Error seen: Sandbox \"" + name + "\" exists and is not owned by this claim";
        // Often an old claim's sandbox still being garbage-collected: look again shortly.
        requeue = Requeue::Earliest(requeue, Requeue::After(std::chrono::seconds(1)));
      } else {
        return tl::unexpected(created.error().Wrap("create sandbox"));
      }
    }
  }
  SetUnbound(key, !sandbox.has_value());

  Json status = ClaimStatus(*claim, sandbox, now, reason, message);
  Result<bool> wrote = WriteStatusIfChanged(store_, claim_res, *claim, status);
  if (!wrote && wrote.error().code != Code::kNotFound) return tl::unexpected(wrote.error());
  // Only now wake the pool: its refill (create, pod, ...) would otherwise compete with this
  // claim's status write for the store and the CPU.
  if (!adopted_from.empty() && notify_pool_) notify_pool_(adopted_from);
  if (!event.first.empty() && options_.record_events)
    RecordEvent(store_, clock_, claim_res, *claim, "Normal", event.first, event.second);
  return requeue;
}

}  // namespace asb::controller
