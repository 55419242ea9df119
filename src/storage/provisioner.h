// The node-local provisioner (Kubernetes' PV controller + an external provisioner, for one
// node): PersistentVolumeClaims of a StorageClass whose provisioner is asb.dev/local get a
// PersistentVolume backed by a LocalVolumes image of the requested size, bound both ways
// (PV spec.claimRef, PVC spec.volumeName; both Bound). Deleting the claim deletes the volume
// when its reclaim policy is Delete (the default) and marks it Released otherwise.
//
//   - A claim without storageClassName gets the default class's name (Kubernetes' retroactive
//     default StorageClass assignment), so `kubectl get pvc` shows the class that served it.
//   - A claim of a class that doesn't exist, or whose size is above max_volume_bytes, stays
//     Pending with a ProvisioningFailed Warning event saying why; a class created later is
//     picked up (class events re-queue the pending claims).
//   - Binding is Immediate: one node means no topology to wait for, and the volume is being
//     made while the Sandbox's pod is still being planned, so a cold start pays ~30 ms of mkfs
//     at most once. The default class says so (volumeBindingMode: Immediate).
//   - With wait_for_first_consumer (`asbd node`: several nodes, each with its own provisioner
//     over one API server) it is Kubernetes' WaitForFirstConsumer, whatever the class says (a
//     node-local volume can't be made before a node is chosen): a claim is provisioned only by
//     the node its first consumer pod is bound to. That node's provisioner sees the bound pod,
//     claims the PVC by annotating it `volume.kubernetes.io/selected-node: NODE` (a conditional
//     write: one node wins), and makes the volume; the PV records the node in
//     spec.nodeAffinity (kubernetes.io/hostname In [NODE]), which the scheduler honours for the
//     pods that come later (scheduler_volumes.h). A claim selected for another node, and PVs
//     of another node, are left alone. The default class it makes says WaitForFirstConsumer.
//   - Start() makes the default class `asb-local` when no class is marked default, and sweeps
//     volume directories no PersistentVolume names (a crash between the image and the PV
//     write, or a PV deleted while asbd was down).
//
// Thread-safe; Start() once, Stop() (also the destructor) joins its threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/keyed_queue.h"
#include "storage/local_volumes.h"
#include "store/store.h"

namespace asb::storage {

inline constexpr char kLocalProvisioner[] = "asb.dev/local";
inline constexpr char kDefaultClassName[] = "asb-local";

inline constexpr char kSelectedNodeAnnotation[] = "volume.kubernetes.io/selected-node";
inline constexpr char kHostnameLabel[] = "kubernetes.io/hostname";

struct ProvisionerOptions {
  int64_t max_volume_bytes = int64_t{64} << 30;  // 64 GiB; larger claims are refused
  // This node's name and the mode above; false: one node, every claim is this node's.
  std::string node_name;
  bool wait_for_first_consumer = false;
};

// The node a PersistentVolume's spec.nodeAffinity pins it to (a required term
// kubernetes.io/hostname In [one name]); "" when it names none.
std::string VolumeNodeAffinity(const Json& pv);

class LocalProvisioner {
 public:
  LocalProvisioner(store::Store& store, LocalVolumes& volumes, Clock& clock,
                   ProvisionerOptions options = {});
  ~LocalProvisioner();
  LocalProvisioner(const LocalProvisioner&) = delete;
  LocalProvisioner& operator=(const LocalProvisioner&) = delete;

  [[nodiscard]] Status Start();
  void Stop();

 private:
  struct WatchLoop;

  Result<Requeue> Reconcile(const std::string& key);
  Result<Requeue> ReconcileClaim(const std::string& ns, const std::string& name);
  Result<Requeue> ReconcileVolume(const std::string& name);
  // wait_for_first_consumer: true when this node may provision `claim` now (annotating it
  // selected for this node first when a pod bound here uses it); false: not (yet) this node's.
  Result<bool> SelectedHere(store::Object& claim);
  Status EnsureDefaultClass();
  void SweepOrphans();
  void RunWatch(WatchLoop* loop);
  void OnEvent(const api::ResourceInfo& res, const store::Object& obj);
  // A Warning event on the claim, once per (claim uid, message).
  void Warn(const Json& claim, const std::string& reason, const std::string& message);

  store::Store& store_;
  LocalVolumes& volumes_;
  Clock& clock_;
  const ProvisionerOptions options_;
  std::unique_ptr<KeyedQueue> queue_;
  std::vector<std::unique_ptr<WatchLoop>> watches_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::mutex warned_mu_;
  std::set<std::string> warned_;
};

}  // namespace asb::storage
