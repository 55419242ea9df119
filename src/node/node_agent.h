// NodeAgent: the embedded "kubelet" inside `asbd serve`. It watches pods in the store, binds the
// unbound ones to this node, runs each pod's one container in a sandbox of the runtime class the
// pod names, runs its readiness probe, restarts it per restartPolicy, writes pod status the
// Kubernetes way and tears the sandbox down (behind a finalizer) when the pod is deleted.
//
// Structure (docs: style.md §7): one watch thread turns store events into pod keys on a
// WorkQueue; a few workers run Sync(key) — read the pod and the sandbox, act, write status only
// when it changed — and ask to be woken again at the next probe, exit check or back-off
// deadline. No thread sleeps per pod; a slow start (gVisor: ~300 ms) occupies one worker.
//
// Runtime classes: unset -> NodeOptions::default_runtime_class; "native" and "gvisor" pick the
// runtime registered under that name. Any other class, or one whose runtime isn't available,
// fails the pod (RuntimeClassNotFound): the node never falls back to a weaker isolation.
//
// Sandbox id = the pod uid (made filesystem-safe), hostname = the pod name. Restarting asbd
// re-adopts running sandboxes, restarts the ones that died (restartCount+1) and stops every
// sandbox whose pod is gone, so nothing leaks across restarts.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "base/clock.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "node/image_resolver.h"
#include "node/pod_events.h"
#include "node/pod_spec.h"
#include "node/pod_status.h"
#include "node/work_queue.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace asb::node {

// The finalizer the node puts on every pod before starting its sandbox; removed after the
// sandbox is stopped, so a pod never disappears from the store while its sandbox still runs.
inline constexpr char kSandboxFinalizer[] = "agents.asb.dev/sandbox-teardown";

struct NodeOptions {
  std::string node_name = "asb-node";
  std::string default_runtime_class = "native";
  int workers = 4;  // concurrent pod syncs (starts, probes, stops)
  // Restart and image-pull back-off: base doubling per consecutive failure, capped (Kubernetes:
  // 10 s .. 5 min). Reset after a container ran for 10 minutes.
  std::chrono::milliseconds backoff_base{10000};
  std::chrono::milliseconds backoff_cap{300000};
  // Until a pod's probe first succeeds it is probed every first_probe_interval, doubling up to
  // periodSeconds, so a warm pool member is Ready milliseconds after its server listens.
  std::chrono::milliseconds first_probe_interval{2};
  // How often a running sandbox is inspected for an exit (the runtime has no exit events).
  std::chrono::milliseconds exit_check_interval{1000};
  // Upper bound on the termination grace period; 0 = honour the pod's.
  std::chrono::milliseconds max_termination_grace{0};
  // Grace for sandboxes found at startup whose pod no longer exists.
  std::chrono::milliseconds orphan_grace{1000};
  Clock* clock = nullptr;  // timestamps in pod status; nullptr = RealClock
  // Called just before an exited container's sandbox is removed (so its output can be kept for
  // `kubectl logs --previous`), with the pod uid, sandbox id and runtime name; and once the node
  // forgets a pod (deleted, replaced), with its uid. Must not block for long.
  std::function<void(const std::string& uid, const std::string& sandbox_id,
                     std::string_view runtime)>
      on_container_exited;
  std::function<void(const std::string& uid)> on_pod_forgotten;
};

class NodeAgent {
 public:
  // `store`, the runtimes and `images` must outlive the agent. A null runtime in the map means
  // "class known but not available here" (pods naming it fail).
  NodeAgent(store::Store& store, std::map<std::string, runtime::Runtime*> runtimes_by_class,
            ImageResolver& images, NodeOptions options);
  ~NodeAgent();
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Recovers sandboxes left by an earlier asbd, then starts the watch and the workers.
  // Errors: kInvalidArgument (bad options), store errors from the first List. Call once.
  [[nodiscard]] Status Start();
  // Stops watching and syncing; waits for in-flight syncs. Sandboxes keep running (a restarted
  // agent re-adopts them). Idempotent.
  void Stop();

  // A connection to `port` inside the pod's sandbox, for the router. Errors: kNotFound (no such
  // pod on this node), kUnavailable (the sandbox isn't running), and the runtime's DialPort errors.
  [[nodiscard]] Result<UniqueFd> DialPod(const std::string& ns, const std::string& pod,
                                         uint16_t port);

  // The sandbox behind pod ns/name (for kubectl logs): its id and the runtime class running it.
  // kNotFound when the pod has no sandbox on this node.
  struct PodSandbox {
    std::string uid;
    std::string sandbox_id;
    std::string runtime;  // "native", "gvisor"; "" while no sandbox runs (exited, backing off)
    bool running = false;
  };
  [[nodiscard]] Result<PodSandbox> SandboxOf(const std::string& ns, const std::string& pod);

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct PodRecord {
    std::string key;  // namespace/name
    std::string ns;
    std::string name;
    std::string uid;
    std::string sandbox_id;
    // Guarded by NodeAgent::mu_ (DialPod reads them); written only by the key's worker.
    runtime::Runtime* runtime = nullptr;
    bool running = false;

    bool sandbox_exists = false;  // a sandbox we started/adopted and haven't stopped
    bool has_run = false;         // a sandbox ran before: the next start is a restart
    PodView view;
    int consecutive_restarts = 0;  // back-off exponent
    int pull_failures = 0;
    SteadyTime next_start_at{};
    SteadyTime started_steady{};
    // Readiness probe state.
    SteadyTime next_probe_at{};
    std::chrono::milliseconds fast_interval{0};
    bool ever_ready = false;
    int successes = 0;
    int failures = 0;
  };

  void WatchLoop();
  // Waits `d` or until Stop(), whichever comes first.
  void WaitForStop(std::chrono::milliseconds d);
  void Sync(const std::string& key);
  // The body of Sync; returns when the key should be synced again (nullopt: only on events).
  std::optional<SteadyTime> SyncPod(const std::string& key);
  std::optional<SteadyTime> SyncRunning(PodRecord& rec, const Json& pod, const PodPlan& plan);
  std::optional<SteadyTime> StartSandbox(PodRecord& rec, const Json& pod, const PodPlan& plan,
                                         runtime::Runtime* rt);
  std::optional<SteadyTime> HandleDeletion(const std::string& key, const Json& pod);
  Status Recover();

  std::shared_ptr<PodRecord> FindRecord(const std::string& key);
  std::shared_ptr<PodRecord> NewRecord(const std::string& key, const Json& pod);
  void EraseRecord(const std::string& key);
  void SetRunning(PodRecord& rec, runtime::Runtime* rt, bool running);
  // Stops the sandbox in every runtime (Stop is idempotent), so none can leak.
  Status StopEverywhere(const std::string& sandbox_id, std::chrono::milliseconds grace);
  // Resolves a class name; nullptr with a failure when it can't run here.
  runtime::Runtime* RuntimeFor(const std::string& runtime_class, PodFailure* failure) const;
  // Writes the computed status if it differs from the stored one. False on a write conflict.
  bool WriteStatus(Json& pod, const PodView& view);
  std::chrono::milliseconds Backoff(int failures) const;

  store::Store& store_;
  std::map<std::string, runtime::Runtime*> runtimes_;
  ImageResolver& images_;
  NodeOptions options_;
  Clock& clock_;
  PodEvents events_;  // kubelet-like Events about pods (pod_events.h)

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PodRecord>> records_;  // by namespace/name
  std::unique_ptr<store::Watcher> watcher_;                    // the current watch, for Stop
  std::condition_variable stop_cv_;

  WorkQueue queue_;
  std::thread watch_thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace asb::node
