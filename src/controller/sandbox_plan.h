// The Sandbox controller's pure part: given a Sandbox, its Pod and Service as read from the store,
// and the time, decide what to create/update/delete and what the status should be
// (upstream-agent-sandbox.md §2.1, v1beta1 semantics:
// operatingMode, status.nodeName, PodScheduled). No I/O; table-tested.
//
// Decisions that differ from upstream HEAD, on purpose:
//   - Embedded mode: sandboxes have no pod IP (they are reached through the node, which dials
//     into the sandbox's network namespace), so Ready does not require status.podIPs. podIPs is
//     still mirrored when the node reports one.
//   - spec.service unset creates the headless Service, as v0.1.0 (whose manifests the seeds are)
//     always did and the v0.1.0 router relies on (<name>.<ns>.svc.<domain>). `service: false`
//     deletes an owned Service; `true` creates it.
//   - volumeClaimTemplates: see sandbox_volumes.h (claims named after the pod; the pod waits
//     for them to be Bound).
//   - Unowned pods/services with the sandbox's name are never adopted; the Sandbox reports
//     Ready=False/ReconcilerError naming the conflict.
#pragma once

#include <optional>
#include <string>

#include "base/clock.h"
#include "base/json_util.h"
#include "base/keyed_queue.h"

namespace asb::controller {

struct SandboxOptions {
  std::string cluster_domain = "cluster.local";
  // When set, new pods get spec.nodeName = node_name (embedded mode: the single node is the
  // scheduler's only choice, so the controller binds directly).
  std::string node_name;
};

struct SandboxPlan {
  // Actions, applied in this order (status first when status_first).
  std::optional<Json> create_pod;
  std::optional<Json> update_pod;  // metadata-only sync of the owned pod (CAS on resourceVersion)
  std::optional<std::string> delete_pod;  // name; carries the pod uid as precondition
  std::string delete_pod_uid;
  std::optional<Json> create_service;
  std::optional<std::string> delete_service;
  std::string delete_service_uid;
  std::optional<Json> update_sandbox;  // metadata (pod-name annotation), CAS
  bool delete_sandbox = false;
  bool status_first = false;  // expiry: announce SandboxExpired before tearing down
  Json status;                // the full desired .status
  Requeue requeue;
};

// The desired pod for `sandbox` (labels, annotations, owner reference, spec). Pure.
Json BuildPod(const Json& sandbox, const SandboxOptions& options);
// The desired headless service. Pure.
Json BuildService(const Json& sandbox);

// `pod`/`service`: the objects named like the sandbox (or the pod-name annotation), if present.
SandboxPlan PlanSandbox(const Json& sandbox, const std::optional<Json>& pod,
                        const std::optional<Json>& service, SystemTime now,
                        const SandboxOptions& options);

// Status after a failed action: the planned status with Ready=False/ReconcilerError.
Json ErrorStatus(const Json& sandbox, const Json& planned_status, const std::string& error,
                 SystemTime now);

}  // namespace asb::controller
