// Condition types and reasons the controllers write (upstream-agent-sandbox.md §1.7), and a
// pure helper that merges a condition into a list the Kubernetes way (lastTransitionTime only
// moves when status changes).
#pragma once

#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/json_util.h"

namespace asb::controller {

inline constexpr std::string_view kCondReady = "Ready";
inline constexpr std::string_view kCondSuspended = "Suspended";
inline constexpr std::string_view kCondFinished = "Finished";
inline constexpr std::string_view kCondPodScheduled = "PodScheduled";

// Sandbox Ready reasons.
// True: the pod is Running and Ready, and the Service exists when one is wanted.
inline constexpr std::string_view kReasonDependenciesReady = "DependenciesReady";
// False: still provisioning; the message says which dependency is missing.
inline constexpr std::string_view kReasonDependenciesNotReady = "DependenciesNotReady";
// False: the pod exited 0 / non-zero (terminal phase). Also the Finished condition's reasons.
inline constexpr std::string_view kReasonPodSucceeded = "PodSucceeded";
inline constexpr std::string_view kReasonPodFailed = "PodFailed";
// False: spec.shutdownTime has passed (pod and service deleted).
inline constexpr std::string_view kReasonSandboxExpired = "SandboxExpired";
// False: spec.replicas is 0 (pod deleted, object kept).
inline constexpr std::string_view kReasonSandboxSuspended = "SandboxSuspended";
// False: a reconcile step failed; message "Error seen: ...".
inline constexpr std::string_view kReasonReconcilerError = "ReconcilerError";
// Suspended condition reasons (v1alpha1).
inline constexpr std::string_view kReasonPodTerminated = "PodTerminated";
inline constexpr std::string_view kReasonPodNotTerminated = "PodNotTerminated";  // v1alpha1
inline constexpr std::string_view kReasonPodTerminating = "PodTerminating";

// SandboxClaim Ready reasons (besides the ones mirrored from the Sandbox).
// False: spec.sandboxTemplateRef names no SandboxTemplate (retried every minute and on create).
// Also a SandboxWarmPool's Ready reason (with a Warning event); removed once the template exists.
inline constexpr std::string_view kReasonTemplateNotFound = "TemplateNotFound";
// False: the named warm pool does not exist and no cold start is possible.
inline constexpr std::string_view kReasonWarmPoolNotFound = "WarmPoolNotFound";
// False: the sandbox exists but has not reported Ready yet.
inline constexpr std::string_view kReasonSandboxNotReady = "SandboxNotReady";
// False: the claim's sandbox disappeared.
inline constexpr std::string_view kReasonSandboxMissing = "SandboxMissing";
// False: lifecycle.shutdownTime reached.
inline constexpr std::string_view kReasonClaimExpired = "ClaimExpired";
inline constexpr std::string_view kReasonEnvVarsInjectionRejected = "EnvVarsInjectionRejected";
inline constexpr std::string_view kReasonVolumeClaimTemplatesError = "VolumeClaimTemplatesError";

struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
};

// Returns `conditions` (an array, or null) with `c` set: an existing entry of the same type is
// replaced, keeping its lastTransitionTime when the status is unchanged; otherwise
// lastTransitionTime = now. Pure.
Json SetCondition(const Json& conditions, const Condition& c, SystemTime now);
// Returns `conditions` without any entry of `type`.
Json RemoveCondition(const Json& conditions, std::string_view type);

}  // namespace asb::controller
