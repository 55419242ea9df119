// Warm adoption under the claim's name (upstream v0.1.0's design): a claim's Sandbox is named
// like the claim, so when a claim takes a warm pool member, a new Sandbox named like the claim
// takes over the member's running *pod* and the member Sandbox goes away. Both the claim
// reconciler (right after adopting, for speed) and the new Sandbox's reconciler (when a crash or
// a race left the move half done) call this; every step is idempotent and compare-and-set.
#pragma once

#include <optional>

#include "base/result.h"
#include "store/store.h"

namespace asb::controller {

// The Sandbox named like `claim` that replaces the adopted warm `member`: member's spec (plus the
// claim's additionalPodMetadata in the pod template), labels minus pool membership, the
// pod-name annotation naming member's pod, owned by the claim.
Json ClaimSandboxFromMember(const Json& member, const Json& claim);

// If `sandbox` is named like the claim that controls it and `pod` is controlled by another
// Sandbox that the same claim controls (the adopted member), moves the pod under `sandbox` and
// deletes that other Sandbox (its Service goes with it; the pod no longer does). Returns the pod as
// now stored, or nullopt when `pod` isn't one to take over.
[[nodiscard]] Result<std::optional<store::Object>> TakeOverPod(store::Store& store,
                                                               const Json& sandbox,
                                                               const Json& pod);

}  // namespace asb::controller
