// SandboxClaim controller: binds each claim to one Sandbox named like the claim — an existing one
// it owns; else a Sandbox that takes over the running pod of a Ready warm-pool member, adopted
// with a compare-and-set (so two claims never get the same sandbox; pod_transplant.h); else a
// cold-started one — and mirrors the Sandbox's Ready into the claim's status (status.sandbox.name
// names it, so clients that watch either the Sandbox or the claim work). The claim names its
// pool (v1beta1 warmPoolRef; the template comes from the pool, WarmPoolNotFound otherwise) or,
// written in v1alpha1, its template and warm pool policy (api::ClaimSourceOf). Optional
// lifecycle.shutdownTime expiry (Delete / DeleteForeground / Retain). Deleting a claim deletes its
// Sandbox through the ownerReference (store GC).
//
// Hot path (warm adoption of a Ready member) costs: one claim Get, one Get by name, one label List
// for the claim's own sandbox, (v1beta1: one pool Get), one candidate List, one CAS Update of the
// member, the new Sandbox's create and status write, the pod's owner update, the member's delete,
// one claim status write.
// Thread-safe; driven by a ReconcileQueue.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "controller/reconcile_queue.h"
#include "store/store.h"

namespace asb::controller {

struct ClaimOptions {
  bool record_events = true;  // SandboxAdopted / SandboxProvisioned / ClaimExpired events
  Duration template_retry{std::chrono::minutes(1)};
};

class ClaimReconciler {
 public:
  // Called with the pool key ("ns/name") after one of its members was adopted, so the pool
  // refills without waiting for the watch round trip. May be empty.
  using PoolNotifier = std::function<void(const std::string& pool_key)>;

  ClaimReconciler(store::Store& store, Clock& clock, ClaimOptions options,
                  PoolNotifier notify_pool = nullptr)
      : store_(store), clock_(clock), options_(options), notify_pool_(std::move(notify_pool)) {}

  // key = "namespace/name". Idempotent.
  Result<Requeue> Reconcile(const std::string& key);

  // Claims in `ns` that ended their last reconcile without a sandbox (e.g. template missing);
  // the manager re-queues them when a warm member becomes Ready.
  std::vector<std::string> UnboundClaims(const std::string& ns) const;

 private:
  // Finds the sandbox the claim already owns (status.sandbox, claim name, claim-uid label); an
  // adopted member whose move under the claim's name was interrupted is finished here.
  // *name_taken (if given) tells whether a Sandbox named like the claim belongs to someone else.
  Result<std::optional<store::Object>> FindOwned(const store::Object& claim, bool* name_taken);
  // Tries to adopt a Ready warm member of template `tmpl_name` ("" = any, the pool decides);
  // nullopt when none could be taken. *pool_key receives the key of the pool the member came
  // from.
  Result<std::optional<store::Object>> AdoptWarm(const store::Object& claim,
                                                 const std::string& tmpl_name,
                                                 std::string* pool_key);
  // The Sandbox named like the claim that takes over adopted `member`'s pod.
  // Only the Sandbox and its status; FinishTakeOver then moves the pod and deletes `member`.
  Result<store::Object> MoveUnderClaimName(const store::Object& claim, const store::Object& member);
  Status FinishTakeOver(const store::Object& sandbox);
  struct ColdResult {
    std::optional<store::Object> sandbox;  // or why not:
    std::string_view reason;
    std::string message;
    std::optional<Requeue> retry;
    std::pair<std::string, std::string> event;
  };
  // Creates the claim's Sandbox from template `tmpl_name` (env injected per its policy).
  Result<ColdResult> ColdStart(const store::Object& claim, const std::string& tmpl_name);
  Result<Requeue> Expire(const store::Object& claim, const std::string& policy);
  void SetUnbound(const std::string& key, bool unbound);

  store::Store& store_;
  Clock& clock_;
  const ClaimOptions options_;
  const PoolNotifier notify_pool_;
  mutable std::mutex mu_;
  std::set<std::string> unbound_;
};

}  // namespace asb::controller
