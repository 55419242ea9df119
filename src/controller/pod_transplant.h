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

// If `sandbox` is named like the claim that controls it and `pod` is controlled by another
// Sandbox that the same claim controls (the adopted member), moves the pod under `sandbox` and
// deletes that other Sandbox (its Service goes with it; the pod no longer does). Returns the pod as
// now stored, or nullopt when `pod` isn't one to take over.
[[nodiscard]] Result<std::optional<store::Object>> TakeOverPod(store::Store& store,
                                                               const Json& sandbox,
                                                               const Json& pod);

}  // namespace asb::controller
