// The SandboxClaim controller's pure parts (upstream-agent-sandbox.md §2.2): which warm members
// to try and in what order, the shape of a cold-started Sandbox and of an adopted one, and the
// claim's status mirrored from its Sandbox. No I/O; table-tested.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json_util.h"

namespace asb::controller {

// v1alpha1 spec.warmpool: "none" never adopts, "" / "default" adopts from any pool of the
// claim's template, anything else names the one pool to adopt from. A v1beta1 claim always names
// its pool (warmPoolRef). See api::ClaimSourceOf.
enum class WarmPoolPolicy { kNone, kAny, kNamed };
WarmPoolPolicy GetWarmPoolPolicy(const Json& claim);

// Label selector for adoption candidates of `claim` whose template is `tmpl_name` ("" = any).
std::string CandidateSelector(const Json& claim, const std::string& tmpl_name);
std::string CandidateSelector(const Json& claim);

// Whether `claim` must cold-start whatever its pool holds (env or volumeClaimTemplates, as
// upstream).
bool NeedsColdStart(const Json& claim);

// Applies the claim's spec.env to `sandbox`'s pod template under the template's
// envVarsInjectionPolicy (Disallowed: any env is rejected; Allowed: new names only; Overrides:
// replace by name). Returns the rejection message, or "" when applied.
std::string InjectEnv(Json& sandbox, const Json& claim, const Json& tmpl);

// Ready, pool-controlled, not-deleting candidates in adoption order: oldest first, rotated by a
// hash of the claim's uid so that concurrent claims start on different members (fewer CAS
// conflicts) while each still walks every candidate. The pointers point into `listed`.
std::vector<const Json*> OrderCandidates(const Json& claim, const std::vector<Json>& listed);
// The same over objects held elsewhere (a store's shared list page); the pointers are `listed`'s.
std::vector<const Json*> OrderCandidates(const Json& claim, const std::vector<const Json*>& listed);

// A member as an older asbd's first adoption step left it (the controller reference moved pool ->
// claim, warm-pool-sandbox label gone, launch-type=warm, claim-uid and pod-name annotation set),
// before it moved under the claim's name in later writes. Adoption is one write now
// (TakeOverMember); a state dir with a member left like this is finished by the claim
// reconciler, and tests build that state with this.
Json AdoptedSandbox(const Json& candidate, const Json& claim);

// A cold-started Sandbox named like the claim (so a v0.1.0 client watching metadata.name=<claim>
// finds it), from the template's podTemplate, owned by the claim, launch-type=cold.
Json BuildColdSandbox(const Json& claim, const Json& tmpl);

// The claim's spec.additionalPodMetadata labels/annotations into `sandbox`'s pod template
// metadata, from where the Sandbox reconciler propagates them to the pod (minus reserved keys;
// the template wins on conflicts). The pod spec never changes.
void MergeAdditionalPodMetadata(Json& sandbox, const Json& claim);

// When the claim expires: the earlier of spec.lifecycle.shutdownTime and (the claim's mirrored
// Finished=True lastTransitionTime + spec.lifecycle.ttlSecondsAfterFinished); nullopt = never.
std::optional<SystemTime> ClaimExpiry(const Json& claim);

// Claim status: Ready mirrored from the sandbox's Ready (observedGeneration = the claim's),
// sandbox {name, podIPs} (v1alpha1 reads also get the v0.1.0 key `Name`, api/conversion.h). Without
// a sandbox: Ready False with `reason`/`message`. Both carry status.startup (claim_startup.h).
Json ClaimStatus(const Json& claim, const std::optional<Json>& sandbox, SystemTime now,
                 std::string_view reason = "", const std::string& message = "");

}  // namespace asb::controller
