// PodRecord: what the node agent knows about one pod it runs, in four parts: who the pod is
// (PodRef), the sandbox behind it (SandboxRef), the status it reports (PodView, pod_status.h),
// and its two schedules (ProbeTracker, RestartTracker). RestorePodRecord rebuilds a record from
// the pod's stored status, so an asbd restart keeps restartCount, start times and terminal states.
#pragma once

#include <string>

#include "base/clock.h"
#include "base/json_util.h"
#include "node/pod_status.h"
#include "node/probe_tracker.h"
#include "node/restart_tracker.h"
#include "runtime/runtime.h"

namespace asb::node {

struct PodRef {
  std::string key;  // namespace/name
  std::string ns;
  std::string name;
  std::string uid;
};

struct SandboxRef {
  std::string id;  // SandboxIdForUid(uid) until a start names it
  // Guarded by NodeAgent's lock (DialPod and SandboxOf read them); written only by the worker
  // syncing the pod.
  runtime::Runtime* runtime = nullptr;
  bool running = false;
  // A sandbox we started or adopted and haven't stopped (written only by the pod's worker).
  bool exists = false;
  // Its CPU share is known to be normal: started so, or promoted from a warm-pool member's
  // idle-class (pool_member.h). false for an adopted sandbox until its first sync says.
  bool cpu_normal = false;
};

struct PodRecord {
  PodRef pod;
  SandboxRef sandbox;
  PodView view;
  ProbeTracker probe;
  RestartTracker restart;
};

struct PodRecordOptions {
  BackoffPolicy backoff;
  std::chrono::milliseconds first_probe_interval{2};
};

// A record for `pod` continuing from its stored status; `now` stamps a container that was running
// when the last agent stopped (its lastState). Pure.
PodRecord RestorePodRecord(const std::string& key, const Json& pod, const PodRecordOptions& options,
                           SystemTime now);

// "namespace/name" of a pod object.
std::string PodKey(const Json& pod);

}  // namespace asb::node
