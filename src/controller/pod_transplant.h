// Warm adoption under the claim's name (upstream v0.1.0's design): a claim's Sandbox is named
// like the claim, so when a claim takes a warm pool member, a new Sandbox named like the claim
// takes over the member's running *pod* and the member Sandbox goes away. The claim reconciler
// does the whole move in one multi-object write (TakeOverMember, with the claim's status in the
// same write), so no one sees it half done. TakeOverPod finishes a move an older asbd left half
// done (the claim's Sandbox created, the pod not yet moved); the new Sandbox's reconciler calls
// it, and every step of it is idempotent and compare-and-set.
#pragma once

#include <optional>

#include "base/clock.h"
#include "base/result.h"
#include "store/store.h"

namespace asb::controller {

// The Sandbox named like `claim` that replaces the adopted warm `member`: member's spec (plus the
// claim's additionalPodMetadata in the pod template), labels minus pool membership, the
// pod-name annotation naming member's pod, owned by the claim.
Json ClaimSandboxFromMember(const Json& member, const Json& claim);

// ClaimSandboxFromMember born with member's status, renamed (it runs the same pod): the object
// TakeOverMember creates, less what the store sets (uid, timestamps, resourceVersion). A claim's
// status can be computed from it before the write.
Json TakeOverSandbox(const Json& member, const Json& claim);

// In `txn`: creates `sandbox` (TakeOverSandbox(member, claim)), re-points member's pod at it,
// with the pod metadata and the Service the new Sandbox's first reconcile would write
// (PlanSandbox at `now`), then deletes warm `member` with uid and resourceVersion preconditions (a
// member someone took or changed since it was read fails the whole write with kAborted). The
// member's delete comes last so that its event, which wakes the pool's refill, goes out after
// everything before it in the batch (a claim's status, staged first, reaches its watchers first).
// Returns the new Sandbox as it will be stored.
// The caller checks that `member` may be taken (its pool's Ready member, or already the claim's).
[[nodiscard]] Result<store::Object> TakeOverMember(store::Txn& txn, const Json& member,
                                                   Json sandbox, SystemTime now);

// The same move without a multi-object write (a store whose Transact is kUnimplemented: the
// Kubernetes REST API), as single compare-and-set writes, each leaving a state the reconcilers
// finish if this one stops after it:
//   1. `member` is claimed: one update at the uid and resourceVersion it was listed at makes
//      `claim` its controller, drops its pool label and adds the claim-uid label. This write is
//      the one that decides: of two claims (or a claim and the pool) that read the same member,
//      only one succeeds; the others get kAborted and move on, so no member serves two claims.
//      From here the pool no longer counts it, and FindOwned finds it by the claim-uid label.
//   2. The Sandbox named like `claim` is created (ClaimSandboxFromMember, born with member's
//      status; an existing one the claim controls is kept).
//   3. TakeOverPod moves the pod and the volume claims under it and deletes the member (the new
//      Sandbox's reconciler runs it too, should this stop before).
// Returns the claim's Sandbox. Step 1 is skipped for a member the claim already controls.
// *claimed (if given) tells whether the member is the claim's (step 1 done) when this fails: the
// caller must then not try another member, but retry this one (FindOwned resumes it).
[[nodiscard]] Result<store::Object> TakeOverMemberStepwise(store::Store& store, const Json& member,
                                                           const Json& claim,
                                                           bool* claimed = nullptr);

// If `sandbox` is named like the claim that controls it and `pod` is controlled by another
// Sandbox that the same claim controls (the adopted member), moves the pod under `sandbox` and
// deletes that other Sandbox (its Service goes with it; the pod no longer does). Returns the pod as
// now stored, or nullopt when `pod` isn't one to take over.
[[nodiscard]] Result<std::optional<store::Object>> TakeOverPod(store::Store& store,
                                                               const Json& sandbox,
                                                               const Json& pod);

}  // namespace asb::controller
