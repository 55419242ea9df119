// A Sandbox's volumeClaimTemplates (upstream sandbox_controller.go reconcilePVCs): one
// PersistentVolumeClaim per template named "<template name>-<pod name>", controlled by the
// Sandbox (deleted with it by the store's garbage collector), labelled with the sandbox-name
// hash, and a persistentVolumeClaim volume of the template's name in the pod spec, replacing
// a pod-template volume of that name (StatefulSet semantics).
//
// Differences from upstream, on purpose:
//   - The claim's name uses the pod's name (the Sandbox's, or its pod-name annotation): a claim's
//     Sandbox that took over a warm member's pod (pod_transplant.h) keeps the member's claims, and
//     the member's claims move to it with the pod, so a warm volume is never re-made.
//   - The pod is created once every claim is Bound (the local provisioner binds Immediately, so
//     this costs the mkfs of a cold claim): the kubelet would otherwise fail the mount and wait
//     out its back-off. Until then the Sandbox's Ready condition names the claim it waits for.
#pragma once

#include <string>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"
#include "store/store.h"

namespace asb::controller {

// "<vct>-<pod name>" for each template. Pure.
std::string ClaimNameFor(const Json& sandbox, const std::string& template_name);
// The claims `sandbox` wants. Pure.
std::vector<Json> BuildClaims(const Json& sandbox);
// Adds the templates' persistentVolumeClaim volumes to `pod_spec`. Pure.
void AddClaimVolumes(const Json& sandbox, Json& pod_spec);

// Creates the missing claims and adopts unowned ones that carry the sandbox's tracking label.
// Returns "" when every claim is Bound, else what it waits for ("PersistentVolumeClaim x is
// Pending"). Errors: a claim controlled by another object (kFailedPrecondition), store errors.
[[nodiscard]] Result<std::string> EnsureClaims(store::Store& store, const Json& sandbox);

// Moves the claims `from` (an adopted warm member) controls to `to` (the claim's Sandbox that
// took over its pod), before `from` is deleted so the garbage collector can't take them.
[[nodiscard]] Status MoveClaims(store::Store& store, const Json& from, const Json& to);
// The same inside a multi-object write (the warm claim's adoption): no retries, since a
// conflict aborts the whole write and the reconciler runs it again.
[[nodiscard]] Status MoveClaims(store::Txn& txn, const Json& from, const Json& to);

// SandboxClaim volumeClaimTemplates merged into a cold Sandbox's per the template's
// volumeClaimTemplatesPolicy (upstream mergeVolumeClaimTemplates): Disallowed (default) rejects
// them, Allowed appends new names only, Overrides also replaces templates by name. Returns ""
// or why the claim is rejected.
std::string MergeClaimVolumeTemplates(Json& sandbox, const Json& claim, const Json& tmpl);

}  // namespace asb::controller
