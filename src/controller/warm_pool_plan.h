// The SandboxWarmPool controller's pure part (upstream-agent-sandbox.md §2.3): which members to
// delete (failed, stuck, excess) and how many to create, and the pool's status. Also the shape of
// a new member Sandbox. No I/O; table-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json_util.h"
#include "base/keyed_queue.h"

namespace asb::controller {

struct PoolMember {
  std::string name;
  std::string uid;
  // Deletes are conditional on it, so a member a claim adopted after our List is never deleted.
  std::string resource_version;
  SystemTime created{};
  bool ready = false;
  bool failed = false;    // Ready=False with reason PodFailed: replaced at once
  bool deleting = false;  // has deletionTimestamp: neither active nor counted
  // Built from another template (ref changed) or an older podTemplate. Replaced at once only
  // under updateStrategy Recreate; OnReplenish (default) keeps it until claimed or deleted.
  bool stale = false;
  // When the member last stopped being Ready (or was created): the stuck-grace clock.
  SystemTime not_ready_since{};
};

// Reads a member's state from a Sandbox object.
// `tmpl`: the pool's current template, when it exists (for staleness).
PoolMember MemberFromSandbox(const Json& sandbox, const Json* tmpl = nullptr);

struct PoolPlanOptions {
  // A member not Ready for this long is deleted and replaced (upstream default 5 min).
  Duration readiness_grace{std::chrono::minutes(5)};
  // Most members created by one reconcile; the rest follow on the next pass.
  int max_batch = 50;
  // updateStrategy.type == Recreate (per pool; the reconciler sets it from the pool's spec).
  bool recreate_stale = false;
};

struct PoolPlan {
  std::vector<PoolMember> to_delete;  // in order
  int create = 0;
  int64_t replicas = 0;        // active members once the plan is applied
  int64_t ready_replicas = 0;  // Ready members kept
  Requeue requeue;             // when the next member could become stuck, or to finish a batch
};

// `can_create`: false when the template is missing (nothing to copy from).
PoolPlan PlanPool(int64_t desired, std::vector<PoolMember> members, bool can_create, SystemTime now,
                  const PoolPlanOptions& options);

// A new member Sandbox for `pool` from `tmpl`: generateName "<pool>-", pool/template labels,
// launch-type warm, created-by controller, template-ref annotation, controller ownerReference to
// the pool, spec.podTemplate (and service) copied from the template.
Json BuildPoolMember(const Json& pool, const Json& tmpl);

// The pool's status.selector: "agents.x-k8s.io/warm-pool-sandbox=<hash(pool)>".
std::string PoolSelector(const std::string& pool_name);

}  // namespace asb::controller
