// The scheduler role (`asbd serve --roles apiserver,scheduler`): binds pods without
// spec.nodeName to a registered node that can take them (scheduler_fit.h: Ready, heartbeating,
// requests within allocatable, least allocated first), as kube-scheduler does on a cluster. The
// binding is a compare-and-set update of spec.nodeName at the resourceVersion the pod was seen
// at, which asbd's API server accepts once (unset -> a node); a pod that fits nowhere gets
// status condition PodScheduled=False, reason Unschedulable, and is tried again when pods or
// nodes change and every retry period.
//
// Embedded (`asbd serve` with the node role and no scheduler role) the node binds pods to itself
// and no scheduler runs: the in-process claim path keeps its speed.
//
// One thread decides, from watch caches of pods, nodes and node Leases; writes go to `store`.
// It keeps its own index of the pods cache, updated from the cache's events (pending pods, and
// what each node's bound pods request), so a pass costs O(pending pods + nodes), not a copy of
// every pod in the cluster.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "base/result.h"
#include "cmd/asbd/scheduler_fit.h"
#include "kube/watch_cache.h"
#include "store/store.h"

namespace asb::asbd {

struct SchedulerOptions {
  std::chrono::milliseconds retry_period{1000};  // unschedulable pods are tried again this often
};

class Scheduler {
 public:
  // `store` must outlive the scheduler.
  explicit Scheduler(store::Store& store, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  [[nodiscard]] Status Start();
  void Stop();  // idempotent

  uint64_t bindings() const { return bindings_; }

 private:
  void Loop();
  void Wake();
  // One pass: every pending pod, in creation order, bound or marked unschedulable.
  void ScheduleAll();
  // Loop thread: applies the pod cache's events queued since the last pass to the index.
  void DrainPodEvents();
  void ApplyPod(store::EventType type, const Json& pod);

  struct Usage {
    Resources requested, scoring;
    int64_t pods = 0;
  };
  struct IndexedPod {
    bool pending = false;
    Json pod;          // pending pods only: what a binding writes
    std::string node;  // pods holding resources on a node
    Resources requested, scoring;
  };

  store::Store& store_;
  const SchedulerOptions options_;
  kube::WatchCache pods_;
  kube::WatchCache nodes_;
  kube::WatchCache leases_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;  // guarded by mu_
  // Loop thread only: "ns/name: message" already written, and the pods bound here that the
  // cache still shows unbound ("ns/name" -> {resourceVersion seen at binding, node}).
  std::set<std::string> unschedulable_;
  std::map<std::string, std::pair<std::string, std::string>> bound_;
  // Loop thread only: the index (pending pods and node usage) and the events that feed it.
  std::unique_ptr<store::Watcher> pod_events_;
  std::map<std::string, IndexedPod> index_;  // "ns/name" -> pending or holding pod
  std::map<std::string, Usage> usage_;       // node -> what its holding pods request
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> bindings_{0};
  std::thread thread_;
};

}  // namespace asb::asbd
