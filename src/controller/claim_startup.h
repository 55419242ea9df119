// A claim's status.startup (upstream KEP-1348, proposed there, not yet shipped): when the
// controller first saw the claim and when the claim first became Ready, as metav1.MicroTime.
//
//   status.startup.controllerObservedTime     the first reconcile that wrote the claim's status
//   status.startup.firstReadyTime             the first status write with Ready=True
//   status.startup.firstReadyTimeUnavailable  true instead, for a claim that was already Ready
//                                             when the controller first recorded startup times
//                                             (written by a version without them): no guess
//   (admissionObservedTime, which KEP-1348 sets in an admission webhook, is not written.)
//
// Write-once: a value once set is carried into every later status unchanged, and the API server
// refuses a status write that changes or removes one (api::ValidateStatusUpdate).
#pragma once

#include "base/clock.h"
#include "base/json_util.h"

namespace asb::controller {

// The claim's status.startup after a status write whose Ready condition is `ready`.
Json ClaimStartup(const Json& claim, bool ready, SystemTime now);

// After a status write that set firstReadyTime for the first time (`before`: the claim as
// read; `status`: what was written; `sandbox`: the claim's Sandbox), observes upstream's
// agent_sandbox_claim_startup_latency_ms (from creationTimestamp, which has 1 s resolution, as
// upstream measures it) and agent_sandbox_claim_controller_startup_latency_ms (from
// controllerObservedTime), labelled launch_type (warm|cold|unknown) and sandbox_template.
void RecordClaimStartup(const Json& before, const Json& status, const Json* sandbox);

}  // namespace asb::controller
