// SandboxClaim controller: binds each claim to one Sandbox — an existing one it owns, else a Ready
// warm-pool member adopted with a compare-and-set (so two claims never get the same sandbox),
// else a cold-started Sandbox named like the claim — and mirrors the Sandbox's Ready into the
// claim's status. Optional lifecycle.shutdownTime expiry (Delete / DeleteForeground / Retain).
// Deleting a claim deletes its Sandbox through the ownerReference (store GC).
//
// Hot path (warm adoption of a Ready member) costs: one claim Get, one label List for the
// claim's own sandbox, one Get by name, one candidate List, one CAS Update, one status write.
// Thread-safe; driven by a KeyedQueue.
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>
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
  // Finds the sandbox the claim already owns (status.sandbox, claim-uid label, claim name).
  Result<std::optional<store::Object>> FindOwned(const store::Object& claim);
  // Tries to adopt a Ready warm member; nullopt when none could be taken. *pool_key receives
  // the key of the pool the member came from.
  Result<std::optional<store::Object>> AdoptWarm(const store::Object& claim, std::string* pool_key);
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
