// Mirror pods: asbd's embedded components shown in the API the way a kubelet shows static pods,
// so the seed's guide reads true on embedded asbd (`kubectl get pods -n agent-sandbox-system`
// lists `agent-sandbox-controller-0 1/1 Running`).
//
//   - Static mirror pods, always present: `agent-sandbox-system/agent-sandbox-controller-0`
//     (app=agent-sandbox-controller) and `agent-sandbox-system/sandbox-router-<node>`
//     (app=sandbox-router, port 8080), plus the Service `agent-sandbox-system/sandbox-router-svc`
//     when absent, which is where upstream's current SDK port-forwards to by default.
//   - Workload mirror pods: a Deployment or StatefulSet that runs upstream's controller or router
//     image (api/workloads.h) gets spec.replicas pods named as the apps controllers would name
//     them, with the template's labels and an ownerReference to the workload (so deleting it
//     removes them), and its status reports them (replicas, ready, available, conditions). All
//     of them are served by the one embedded component.
//
// Every mirror pod carries the label asb.dev/mirror=true and the annotations
// kubernetes.io/config.mirror and asb.dev/embedded-component. The node agent does not run them;
// their status comes from the component's health, and the reconciler puts back any change or
// deletion a user makes (read-only, as a kubelet's mirror pods are). pods/portforward to a
// router mirror pod reaches the embedded router (cmd/asbd/pod_dialer.h).
//
// Level-triggered: watches on Deployments, StatefulSets and mirror pods wake one reconcile of
// everything (a handful of objects), plus a periodic resync for health changes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/workloads.h"
#include "base/json_util.h"
#include "base/result.h"
#include "store/store.h"

namespace asb::asbd {

inline constexpr char kMirrorLabel[] = "asb.dev/mirror";
inline constexpr char kComponentAnnotation[] = "asb.dev/embedded-component";
inline constexpr char kConfigMirrorAnnotation[] = "kubernetes.io/config.mirror";
inline constexpr char kSystemNamespace[] = "agent-sandbox-system";
inline constexpr uint16_t kRouterPodPort = 8080;  // the seed's containerPort/targetPort

// The embedded component a pod stands for (its annotation), or kNone for ordinary pods.
api::EmbeddedComponent MirrorComponent(const Json& pod);

struct MirrorInputs {
  std::string node_name;
  std::string started_at;  // RFC 3339: the component's start (pod startTime)
  bool controller_healthy = true;
  bool router_healthy = true;
};

// Pure: the mirror pods that should exist (keyed "ns/name"), for these workloads.
std::map<std::string, Json> DesiredMirrorPods(const std::vector<Json>& deployments,
                                              const std::vector<Json>& statefulsets,
                                              const MirrorInputs& in);
// Pure: the status of a served workload of kind `kind` whose `ready` pods are Ready.
Json WorkloadStatus(const Json& workload, const std::string& kind, int64_t ready);

struct MirrorPodsOptions {
  std::string node_name = "asb-node";
  std::chrono::milliseconds resync{5000};
  // Health of the embedded components; unset = healthy while asbd runs.
  std::function<bool(api::EmbeddedComponent)> healthy;
};

class MirrorPods {
 public:
  // `store` must outlive this.
  MirrorPods(store::Store& store, MirrorPodsOptions options);
  ~MirrorPods();
  MirrorPods(const MirrorPods&) = delete;
  MirrorPods& operator=(const MirrorPods&) = delete;

  // Creates the static objects, then keeps everything reconciled on its own threads.
  [[nodiscard]] Status Start();
  void Stop();
  // One reconcile pass, synchronously (Start runs one before returning).
  [[nodiscard]] Status ReconcileOnce();

 private:
  void WatchLoop(const api::ResourceInfo* res, std::string label_selector);
  void Loop();
  void Wake();

  store::Store& store_;
  MirrorPodsOptions options_;
  std::string started_at_;
  std::mutex reconcile_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = false;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace asb::asbd
