// NodeAgent: the embedded "kubelet" inside `asbd serve`. It watches pods in the store, binds the
// unbound ones to this node, runs each pod's one container in a sandbox of the runtime class the
// pod names, runs its readiness probe, restarts it per restartPolicy, writes pod status the
// Kubernetes way and tears the sandbox down (behind a finalizer) when the pod is deleted.
//
// Structure (docs: style.md §7): one watch thread turns store events into pod keys on a
// KeyedQueue (base/keyed_queue.h, the controllers' queue too); a few workers run Sync(key) — read
// the pod and the sandbox, act, write status only when it changed — and ask to be woken again at
// the next probe, exit check or back-off deadline. No thread sleeps per pod; a slow start (gVisor:
// ~300 ms) occupies one worker. The parts it composes, each in its own file:
//   runtime_set.h       runtime class -> runtime, never falling back to a weaker one
//   sandbox_preparer.h  image resolution and the SandboxSpec (ErrImagePull vs RunContainerError)
//   probe_tracker.h     the readiness-probe schedule and thresholds
//   restart_tracker.h   restart policy, crash-loop and image-pull back-off
//   recovery.h          adopt / restart / stop what an earlier asbd left running
//   pod_writer.h        binding, the teardown finalizer and status writes
//   pool_member.h       a warm-pool member boots idle-class until its claim
//   pod_record.h        what the node knows about one pod, restored from its stored status
//   simulated_node.h    simulated sandboxes (scale tests) or real ones, never both
//
// Time: every deadline (probe, exit check, back-off, retry) and every status timestamp is read
// from NodeOptions::clock, and the queue waits on that clock too, so tests drive the node on a
// FakeClock (Advance, then WakeTimers). In a daemon deadlines are monotonic, timestamps wall time.
//
// Sandbox id = the pod uid (made filesystem-safe), hostname = the pod name.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/clock.h"
#include "base/keyed_queue.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "image/image_resolver.h"
#include "node/pod_events.h"
#include "node/pod_record.h"
#include "node/pod_spec.h"
#include "node/pod_status.h"
#include "node/pod_writer.h"
#include "node/runtime_set.h"
#include "node/sandbox_preparer.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace asb::node {

struct NodeOptions {
  std::string node_name = "asb-node";
  std::string default_runtime_class = "native";
  // Embedded (one node): pods without spec.nodeName are bound here by the agent itself, with no
  // scheduler in between. false: only pods a scheduler bound to node_name run here (`asbd node`).
  bool bind_unbound = true;
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
  // Every deadline and timestamp (see the file comment). nullptr: timestamps from RealClock,
  // deadlines from MonotonicClock (so a stepped wall clock never stalls a probe or a restart).
  Clock* clock = nullptr;
  // Called just before an exited container's sandbox is removed (so its output can be kept for
  // `kubectl logs --previous`), with the pod uid, sandbox id and runtime name; and once the node
  // forgets a pod (deleted, replaced), with its uid. Must not block for long.
  std::function<void(const std::string& uid, const std::string& sandbox_id,
                     std::string_view runtime)>
      on_container_exited;
  std::function<void(const std::string& uid)> on_pod_forgotten;
  // The bind mounts a pod's volumes become (storage/volume_binds.h), added to its sandbox's
  // root before each start; an error fails that start (RunContainerError, retried). Unset: pod
  // volumes are ignored.
  std::function<Result<std::vector<runtime::BindMount>>(const Json& pod)> pod_volumes;
};

class NodeAgent {
 public:
  // `store`, the runtimes and `images` must outlive the agent. A null runtime in the map means
  // "class known but not available here" (pods naming it fail).
  NodeAgent(store::Store& store, std::map<std::string, runtime::Runtime*> runtimes_by_class,
            image::ImageResolver& images, NodeOptions options);
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

  // Makes the queue re-read the clock for due deadlines: with a FakeClock, call after Advance.
  void WakeTimers() { queue_.Wake(); }

 private:
  using Next = std::optional<SystemTime>;  // when to sync the pod again; nullopt: on events only

  void WatchLoop();
  // Waits `d` or until Stop(), whichever comes first.
  void WaitForStop(std::chrono::milliseconds d);
  void Sync(const std::string& key);
  // The body of Sync.
  Next SyncPod(const std::string& key);
  Next SyncRunning(PodRecord& rec, const Json& pod, const PodPlan& plan);
  Next StartSandbox(PodRecord& rec, const Json& pod, const PodPlan& plan, runtime::Runtime* rt);
  // Waiting out a pull back-off: ErrImagePull turns into ImagePullBackOff.
  Next PullBackOff(PodRecord& rec, const Json& pod, const PodPlan& plan);
  Next HandleDeletion(const std::string& key, const Json& pod);
  // When to retry after a failed store write: at once on a conflict, never when the pod is gone,
  // else after a short delay (logged).
  Next AfterWriteError(const Error& error, const std::string& what, const std::string& key);
  // Status-only write of rec.view; on a conflict asks for an immediate re-sync.
  Next WriteStatusThen(Json& pod, const PodRecord& rec, Next next);
  Status Recover();

  std::shared_ptr<PodRecord> FindRecord(const std::string& key);
  std::shared_ptr<PodRecord> NewRecord(const std::string& key, const Json& pod);
  void EraseRecord(const std::string& key);
  void SetRunning(PodRecord& rec, runtime::Runtime* rt, bool running);
  // A write of the pod by this agent is in flight: its watch echo may arrive before the write
  // returns, so events for the pod are held until EndOwnWrite says which revision was ours.
  void BeginOwnWrite(const std::string& key);
  // Ends it: `pod` is the object as written (its echo is skipped from now on), or nullptr if
  // the write failed. A held event that was not the echo queues a sync.
  void EndOwnWrite(const std::string& key, const Json* pod);
  // Stops the pod's sandbox and forgets the pod (it is gone, replaced or moved).
  Next Forget(const std::string& key, const std::shared_ptr<PodRecord>& rec);

  store::Store& store_;
  NodeOptions options_;
  Clock& clock_;   // timestamps in status and events
  Clock& timers_;  // deadlines: monotonic unless a test clock is given
  RuntimeSet runtimes_;
  SandboxPreparer preparer_;
  PodWriter writer_;
  PodEvents events_;  // kubelet-like Events about pods (pod_events.h)

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PodRecord>> records_;  // by namespace/name
  // The revisions of this agent's writes to each pod (status, finalizer) whose watch echo has
  // not come yet, oldest first: such an event describes a state the agent already acted on,
  // so it is not synced again. (Echoes come in revision order, often after the next write.)
  std::map<std::string, std::deque<int64_t>> own_writes_;
  // Whether the MODIFIED event at `revision` is the echo of one of this agent's writes to the
  // pod (forgetting the older ones, whose echoes have passed). Under mu_.
  bool IsOwnEcho(const std::string& key, int64_t revision);
  // Pods with a write in flight, and the revisions of the MODIFIED events held meanwhile.
  std::map<std::string, std::vector<int64_t>> writing_;
  std::unique_ptr<store::Watcher> watcher_;  // the current watch, for Stop
  std::condition_variable stop_cv_;

  KeyedQueue queue_;  // Sync(key), and "sync again at T" for every timer
  std::thread watch_thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool simulated_ = false;  // its runtimes are runtime/simulated (simulated_node.h); set by Start
};

}  // namespace asb::node
