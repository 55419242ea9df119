// SandboxClaim controller: binds each claim to one Sandbox named like the claim — an existing one
// it owns; else a Sandbox that takes over the running pod of a Ready warm-pool member, in one
// multi-object write that compare-and-sets the member (so two claims never get the same sandbox;
// pod_transplant.h) and marks the claim Ready; else a
// cold-started one — and mirrors the Sandbox's Ready into the claim's status (status.sandbox.name
// names it, so clients that watch either the Sandbox or the claim work). The claim names its
// pool (v1beta1 warmPoolRef; the template comes from the pool, WarmPoolNotFound otherwise) or,
// written in v1alpha1, its template and warm pool policy (api::ClaimSourceOf). Optional
// lifecycle.shutdownTime expiry (Delete / DeleteForeground / Retain). Deleting a claim deletes its
// Sandbox through the ownerReference (store GC).
//
// Hot path (warm adoption of a Ready member) costs: one claim Get, one Get by name, one label List
// for the claim's own sandbox, (v1beta1: one pool Get), one page of candidates (a label List with
// a limit; the store's label index makes both Lists independent of the pool's size), and one store
// commit (Store::Transact) of four objects: the member's delete (compare-and-set), the new
// Sandbox's create with its status, the pod's owner update, the claim's status. Only after it do
// the pool's refill and the other reconciles the write wakes start.
// Thread-safe; driven by a KeyedQueue.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/keyed_queue.h"
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
  // Finds the sandbox the claim already owns (status.sandbox, claim name, claim-uid label); a
  // member an older asbd adopted but did not move under the claim's name is moved here.
  // *name_taken (if given) tells whether a Sandbox named like the claim belongs to someone else.
  Result<std::optional<store::Object>> FindOwned(const store::Object& claim, bool* name_taken);
  // Tries to adopt a Ready warm member of template `tmpl_name` ("" = any, the pool decides);
  // nullopt when none could be taken. *pool_key receives the key of the pool the member came
  // from, *claim_after the claim as the adoption's write left it (Ready, bound).
  Result<std::optional<store::Object>> AdoptWarm(const store::Object& claim,
                                                 const std::string& tmpl_name, SystemTime now,
                                                 std::string* pool_key, store::Object* claim_after);
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
