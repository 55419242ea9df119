#include "controller/claim_reconciler.h"

#include "api/resource.h"
#include "api/sandbox_claim.h"
#include "api/views.h"
#include "base/log.h"
#include "controller/claim_plan.h"
#include "controller/claim_startup.h"
#include "controller/conditions.h"
#include "controller/events.h"
#include "controller/object_util.h"
#include "controller/pod_transplant.h"
#include "controller/sandbox_volumes.h"
#include "controller/store_ops.h"

namespace asb::controller {

namespace {

// Members read per candidate List: enough that concurrent claims (OrderCandidates spreads them
// over the page) rarely contend for one member, few enough that copying them stays cheap.
constexpr int64_t kCandidatePage = 8;

}  // namespace

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

Result<std::optional<store::Object>> ClaimReconciler::FindOwned(const store::Object& claim,
                                                                bool* name_taken) {
  const std::string ns = Namespace(claim);
  const api::ResourceInfo& sb_res = api::SandboxResource();
  std::string bound = api::BoundSandboxName(claim);
  if (!bound.empty()) {
    ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sb, GetIfExists(store_, sb_res, ns, bound));
    if (sb && IsControlledBy(*sb, claim)) return sb;
  }
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> named,
                       GetIfExists(store_, sb_res, ns, Name(claim)));
  if (named && IsControlledBy(*named, claim)) return named;
  if (name_taken) *name_taken = named.has_value();
  // An adoption whose move or status write was lost (crash, conflict) is found by its claim-uid
  // label.
  store::ListOptions lo;
  lo.label_selector = std::string(kLabelClaimUid) + "=" + Uid(claim);
  ASB_ASSIGN_OR_RETURN(store::ListResult listed, store_.List(sb_res, ns, lo));
  for (store::Object& sb : listed.items) {
    if (!IsControlledBy(sb, claim) || IsDeleting(sb)) continue;
    // Bound under its own name by an older asbd: keep it. Otherwise finish the move.
    if (bound == Name(sb) || named) return std::optional<store::Object>(std::move(sb));
    store::Object moved;
    Status done = store_.Transact([&](store::Txn& txn) -> Status {
      ASB_ASSIGN_OR_RETURN(moved,
                           TakeOverMember(txn, sb, TakeOverSandbox(sb, claim), clock_.Now()));
      return OkStatus();
    });
    if (!done && done.error().code == Code::kUnimplemented) {
      ASB_ASSIGN_OR_RETURN(moved, TakeOverMemberStepwise(store_, sb, claim));
    } else if (!done) {
      return tl::unexpected(done.error());
    }
    return std::optional<store::Object>(std::move(moved));
  }
  return std::optional<store::Object>();
}

Result<std::optional<store::Object>> ClaimReconciler::AdoptWarm(const store::Object& claim,
                                                                const std::string& tmpl_name,
                                                                SystemTime now,
                                                                std::string* pool_key,
                                                                store::Object* claim_after) {
  const std::string ns = Namespace(claim);
  store::ListOptions lo;
  lo.label_selector = CandidateSelector(claim, tmpl_name);
  // A page of members at a time, not the whole pool: the store finds them by label (its index),
  // so the first page of a pool of 10,000 costs what a pool of 10 does; the next page is read
  // only when none of this one could be taken.
  lo.limit = kCandidatePage;
  for (bool more = true; more;) {
    // The store's own objects, not copies: the candidates are only read (a page of 8 sandboxes
    // copied and freed was a tenth of the adoption's CPU).
    ASB_ASSIGN_OR_RETURN(store::SharedListResult listed,
                         store_.SharedList(api::SandboxResource(), ns, lo));
    more = !listed.continue_token.empty();
    lo.continue_token = std::move(listed.continue_token);
    std::vector<const Json*> page;
    page.reserve(listed.items.size());
    for (const auto& item : listed.items) page.push_back(item.get());
    for (const Json* cand : OrderCandidates(claim, page)) {
      const Json& candidate = *cand;
      // One write: the claim is Ready, the claim's Sandbox takes over the member's pod, and the
      // member goes (compare-and-set on the resourceVersion we listed it at: if another claim or
      // the pool wrote it since, the whole write fails with kAborted and we move on to the next
      // candidate). Nothing else runs (pool refill, reconciles of the member) before the claim is
      // Ready. The claim's status is staged first, so its event is published first: its watchers
      // are woken before the controllers' and the node's (and the pool's refill, which the
      // member's delete, staged last, wakes) compete with them for the CPU.
      store::Object sandbox, written;
      Status done = store_.Transact([&](store::Txn& txn) -> Status {
        std::optional<Json> planned(TakeOverSandbox(candidate, claim));
        store::Object next = claim;
        next["status"] = ClaimStatus(claim, planned, now);
        next["metadata"].erase("resourceVersion");
        ASB_ASSIGN_OR_RETURN(written, txn.Update(api::SandboxClaimResource(), std::move(next),
                                                 {.status_only = true}));
        ASB_ASSIGN_OR_RETURN(sandbox, TakeOverMember(txn, candidate, std::move(*planned), now));
        return OkStatus();
      });
      if (!done && done.error().code == Code::kUnimplemented) {
        // No multi-object writes (the REST API): the compare-and-set steps, then the claim.
        bool claimed = false;
        auto stepwise = TakeOverMemberStepwise(store_, candidate, claim, &claimed);
        // Ours already, the move unfinished: retry it (never take a second member).
        if (!stepwise && claimed)
          return tl::unexpected(stepwise.error().Wrap("finish adopting " + Name(candidate)));
        if (stepwise) {
          sandbox = std::move(*stepwise);
          store::Object next = claim;
          next["status"] = ClaimStatus(claim, sandbox, now);
          next["metadata"].erase("resourceVersion");
          auto wrote =
              store_.Update(api::SandboxClaimResource(), std::move(next), {.status_only = true});
          if (wrote) written = std::move(*wrote);
          // The member is the claim's now whatever happens next: a failed status write is retried
          // by the next reconcile, which finds the Sandbox by name.
          done = wrote ? OkStatus() : Status(tl::unexpected(wrote.error()));
          if (!done) return tl::unexpected(done.error().Wrap("adopt " + Name(candidate)));
        } else {
          done = tl::unexpected(stepwise.error());
        }
      }
      if (!done) {
        Code c = done.error().code;
        if (c == Code::kAborted || c == Code::kNotFound) continue;
        return tl::unexpected(done.error().Wrap("adopt " + Name(candidate)));
      }
      auto pool = ControllerRef(candidate);
      ASB_LOG(INFO, "claim adopted warm sandbox", "claim", KeyOf(claim), "sandbox", Name(candidate),
              "pool", pool ? pool->name : "");
      if (pool) *pool_key = MakeKey(ns, pool->name);
      *claim_after = std::move(written);
      return std::optional<store::Object>(std::move(sandbox));
    }
  }
  return std::optional<store::Object>();
}

Result<ClaimReconciler::ColdResult> ClaimReconciler::ColdStart(const store::Object& claim,
                                                               const std::string& tmpl_name) {
  const std::string ns = Namespace(claim);
  ColdResult out;
  std::optional<store::Object> tmpl;
  if (!tmpl_name.empty()) {
    ASB_ASSIGN_OR_RETURN(tmpl, GetIfExists(store_, api::SandboxTemplateResource(), ns, tmpl_name));
  }
  if (!tmpl) {
    out.reason = kReasonTemplateNotFound;
    out.message = tmpl_name.empty() ? "the claim names no SandboxTemplate"
                                    : "SandboxTemplate \"" + tmpl_name +
                                          "\" not found in namespace \"" + ns + "\"";
    out.retry = Requeue::After(options_.template_retry);
    return out;
  }
  Json desired = BuildColdSandbox(claim, *tmpl);
  if (std::string rejected = InjectEnv(desired, claim, *tmpl); !rejected.empty()) {
    out.reason = kReasonEnvVarsInjectionRejected;  // terminal until the claim or template changes
    out.message = rejected;
    return out;
  }
  if (std::string rejected = MergeClaimVolumeTemplates(desired, claim, *tmpl); !rejected.empty()) {
    out.reason = kReasonVolumeClaimTemplatesError;  // terminal until the claim or template changes
    out.message = rejected;
    return out;
  }
  auto created = store_.Create(api::SandboxResource(), std::move(desired));
  if (created) {
    out.sandbox = std::move(*created);
    ASB_LOG(INFO, "claim cold-started sandbox", "claim", KeyOf(claim));
    out.event = {"SandboxProvisioned", "Created Sandbox " + Name(*out.sandbox)};
  } else if (created.error().code == Code::kAlreadyExists) {
    // FindOwned saw no owned sandbox with this name: it belongs to someone else.
    out.reason = kReasonReconcilerError;
    out.message =
        "Error seen: Sandbox \"" + Name(claim) + "\" exists and is not owned by this claim";
    // Often an old claim's sandbox still being garbage-collected: look again shortly.
    out.retry = Requeue::After(std::chrono::seconds(1));
  } else {
    return tl::unexpected(created.error().Wrap("create sandbox"));
  }
  return out;
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
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sb, FindOwned(claim, nullptr));
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

  bool name_taken = false;  // a Sandbox named like the claim that isn't the claim's
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sandbox, FindOwned(*claim, &name_taken));
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
    status["sandbox"] = {{"name", bound}};
    Result<bool> wrote = WriteStatusIfChanged(store_, claim_res, *claim, status);
    if (!wrote && wrote.error().code != Code::kNotFound) return tl::unexpected(wrote.error());
    return requeue;
  }
  if (!sandbox) {
    // Where from: the claim's template (v1alpha1), or its pool's (v1beta1).
    api::ClaimSource source = api::ClaimSourceOf(*claim);
    std::string tmpl_name = source.template_name;
    // (A taken name goes to the cold path, which reports the conflict.)
    bool warm =
        source.warm != api::ClaimSource::Warm::kNone && !NeedsColdStart(*claim) && !name_taken;
    bool resolved = true;
    if (tmpl_name.empty()) {
      ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pool,
                           GetIfExists(store_, api::SandboxWarmPoolResource(), ns, source.pool));
      if (!pool) {
        resolved = false;
        reason = kReasonWarmPoolNotFound;
        message = source.pool.empty() ? "spec.warmPoolRef.name is empty"
                                      : "SandboxWarmPool \"" + source.pool +
                                            "\" not found in namespace \"" + ns + "\"";
        requeue = Requeue::Earliest(requeue, Requeue::After(options_.template_retry));
      } else {
        tmpl_name = GetString(*pool, "spec.sandboxTemplateRef.name");
        // replicas 0: a cold-start profile, nothing to adopt.
        if (api::WarmPoolReplicas(*pool) == 0) warm = false;
      }
    }
    if (resolved && warm) {
      store::Object claim_after;
      auto adopted = AdoptWarm(*claim, tmpl_name, now, &adopted_from, &claim_after);
      if (!adopted) {
        reason = kReasonReconcilerError;
        message = "Error seen: " + adopted.error().message;
        requeue = Requeue::Earliest(requeue, Requeue::After(std::chrono::seconds(1)));
        resolved = false;
      } else if (*adopted) {
        sandbox = std::move(*adopted);
        // The adoption's write carried the claim's Ready status, so the status write below is a
        // no-op: the startup latency that write would have observed is observed here.
        RecordClaimStartup(*claim, claim_after["status"], &*sandbox);
        *claim = std::move(claim_after);
        event = {"SandboxAdopted", "Adopted warm pool Sandbox into " + Name(*sandbox)};
      }
    }
    if (resolved && !sandbox) {
      ASB_ASSIGN_OR_RETURN(ColdResult cold, ColdStart(*claim, tmpl_name));
      sandbox = std::move(cold.sandbox);
      reason = cold.reason;
      message = std::move(cold.message);
      if (cold.retry) requeue = Requeue::Earliest(requeue, *cold.retry);
      if (!cold.event.first.empty()) event = std::move(cold.event);
    }
  }
  SetUnbound(key, !sandbox.has_value());

  Json status = ClaimStatus(*claim, sandbox, now, reason, message);
  Result<bool> wrote = WriteStatusIfChanged(store_, claim_res, *claim, status);
  if (!wrote && wrote.error().code != Code::kNotFound) return tl::unexpected(wrote.error());
  if (wrote && *wrote) RecordClaimStartup(*claim, status, sandbox ? &*sandbox : nullptr);
  // Only now wake the pool: its refill (create, pod, ...) would otherwise compete with this
  // claim's status write for the store and the CPU.
  if (!adopted_from.empty() && notify_pool_) notify_pool_(adopted_from);
  if (!event.first.empty() && options_.record_events)
    RecordEvent(store_, clock_, claim_res, *claim, "Normal", event.first, event.second);
  return requeue;
}

}  // namespace asb::controller
