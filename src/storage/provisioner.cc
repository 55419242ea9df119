#include "storage/provisioner.h"

#include "api/storage.h"
#include "base/log.h"
#include "controller/events.h"
#include "controller/object_util.h"
#include "controller/store_ops.h"

namespace asb::storage {

namespace {

using controller::GetIfExists;
using controller::Name;
using controller::Namespace;
using controller::Uid;

constexpr char kPvcPrefix[] = "pvc/";
constexpr char kPvPrefix[] = "pv/";

std::string HumanBytes(int64_t b) {
  constexpr const char* kUnits[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  int u = 0;
  while (u < 5 && b >= 1024 && b % 1024 == 0) {
    b /= 1024;
    ++u;
  }
  return std::to_string(b) + kUnits[u];
}

// The PersistentVolume for `claim`, backed by the local volume `pv_name`.
Json HostnameAffinity(const std::string& node) {
  Json expr = {{"key", kHostnameLabel}, {"operator", "In"}, {"values", Json::array({node})}};
  Json term = {{"matchExpressions", Json::array({expr})}};
  Json affinity;
  affinity["required"]["nodeSelectorTerms"] = Json::array({term});
  return affinity;
}

// The claims pod `pod` mounts (spec.volumes[].persistentVolumeClaim.claimName).
std::vector<std::string> PodClaims(const Json& pod) {
  std::vector<std::string> out;
  if (const Json* vs = Find(pod, "spec.volumes"); vs && vs->is_array())
    for (const Json& v : *vs)
      if (std::string c = GetString(v, "persistentVolumeClaim.claimName"); !c.empty())
        out.push_back(std::move(c));
  return out;
}

// `node_name`: the node the volume lives on ("": none recorded, one node).
Json BuildVolume(const Json& claim, const Json& storage_class, const std::string& pv_name,
                 const std::string& path, const std::string& node_name) {
  const Json* storage = Find(claim, "spec.resources.requests.storage");
  const Json* modes = Find(claim, "spec.accessModes");
  Json pv = {
      {"apiVersion", "v1"},
      {"kind", "PersistentVolume"},
      {"metadata",
       {{"name", pv_name},
        {"annotations", {{"pv.kubernetes.io/provisioned-by", kLocalProvisioner}}}}},
      {"spec",
       {{"capacity", {{"storage", storage ? *storage : Json("0")}}},
        {"accessModes", modes ? *modes : Json::array({"ReadWriteOnce"})},
        {"persistentVolumeReclaimPolicy", GetString(storage_class, "reclaimPolicy", "Delete")},
        {"storageClassName", Name(storage_class)},
        {"volumeMode", "Filesystem"},
        {"local", {{"path", path}, {"fsType", "ext4"}}},
        {"claimRef",
         {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"namespace", Namespace(claim)},
          {"name", Name(claim)},
          {"uid", Uid(claim)}}}}}};
  if (!node_name.empty()) pv["spec"]["nodeAffinity"] = HostnameAffinity(node_name);
  return pv;
}

}  // namespace

std::string VolumeNodeAffinity(const Json& pv) {
  const Json* terms = Find(pv, "spec.nodeAffinity.required.nodeSelectorTerms");
  if (!terms || !terms->is_array() || terms->size() != 1) return "";
  const Json* exprs = Find((*terms)[0], "matchExpressions");
  if (!exprs || !exprs->is_array()) return "";
  for (const Json& e : *exprs) {
    const Json* values = Find(e, "values");
    if (GetString(e, "key") == kHostnameLabel && GetString(e, "operator") == "In" && values &&
        values->is_array() && values->size() == 1 && (*values)[0].is_string())
      return (*values)[0].get<std::string>();
  }
  return "";
}

struct LocalProvisioner::WatchLoop {
  const api::ResourceInfo* res = nullptr;
  std::mutex mu;
  std::unique_ptr<store::Watcher> watcher;
};

LocalProvisioner::LocalProvisioner(store::Store& store, LocalVolumes& volumes, Clock& clock,
                                   ProvisionerOptions options)
    : store_(store), volumes_(volumes), clock_(clock), options_(options) {
  QueueOptions qo;
  qo.name = "provisioner";
  qo.workers = 1;  // volumes are made one at a time: mkfs is disk-bound
  queue_ = std::make_unique<KeyedQueue>(clock_, qo,
                                        [this](const std::string& k) { return Reconcile(k); });
}

LocalProvisioner::~LocalProvisioner() { Stop(); }

Status LocalProvisioner::Start() {
  ASB_RETURN_IF_ERROR(EnsureDefaultClass());
  SweepOrphans();
  std::vector<const api::ResourceInfo*> watched = {&api::PersistentVolumeClaimResource(),
                                                   &api::PersistentVolumeResource(),
                                                   &api::StorageClassResource()};
  // The pods bound to this node are the first consumers it provisions for.
  if (options_.wait_for_first_consumer) watched.push_back(&api::PodResource());
  for (const api::ResourceInfo* res : watched) {
    auto loop = std::make_unique<WatchLoop>();
    loop->res = res;
    auto w = store_.Watch(*res, "", store::WatchOptions{});
    if (!w) return tl::unexpected(w.error().Wrap("watch " + res->plural));
    loop->watcher = std::move(*w);
    watches_.push_back(std::move(loop));
  }
  queue_->Start();
  for (auto& w : watches_) threads_.emplace_back([this, loop = w.get()] { RunWatch(loop); });
  return OkStatus();
}

void LocalProvisioner::Stop() {
  if (stopping_.exchange(true)) return;
  for (auto& w : watches_) {
    std::lock_guard l(w->mu);
    if (w->watcher) w->watcher->Stop();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  queue_->Stop();
}

void LocalProvisioner::RunWatch(WatchLoop* loop) {
  while (!stopping_) {
    store::Watcher* w;
    {
      std::lock_guard l(loop->mu);
      w = loop->watcher.get();
    }
    auto ev = w ? w->Next(std::chrono::seconds(5)) : MakeError(Code::kUnavailable, "no watcher");
    if (stopping_) return;
    if (ev) {
      if (*ev && (*ev)->type != store::EventType::kBookmark) OnEvent(*loop->res, (*ev)->object);
      continue;
    }
    // Fell behind or broke: watch again from scratch (its initial events are a re-list).
    auto fresh = store_.Watch(*loop->res, "", store::WatchOptions{});
    std::lock_guard l(loop->mu);
    if (fresh) {
      loop->watcher = std::move(*fresh);
    } else {
      loop->watcher.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

void LocalProvisioner::OnEvent(const api::ResourceInfo& res, const store::Object& obj) {
  if (res.kind == "PersistentVolumeClaim") {
    queue_->Add(kPvcPrefix + controller::MakeKey(Namespace(obj), Name(obj)));
    std::string pv = GetString(obj, "spec.volumeName");
    if (!pv.empty()) queue_->Add(kPvPrefix + pv);
  } else if (res.kind == "PersistentVolume") {
    queue_->Add(kPvPrefix + Name(obj));
  } else if (res.kind == "Pod") {
    if (GetString(obj, "spec.nodeName") != options_.node_name) return;
    for (const std::string& c : PodClaims(obj))
      queue_->Add(kPvcPrefix + controller::MakeKey(Namespace(obj), c));
  } else {
    // A class appeared or changed: the claims still waiting for one get another look.
    auto claims = store_.List(api::PersistentVolumeClaimResource(), "", store::ListOptions{});
    if (!claims) return;
    for (const auto& c : claims->items)
      if (GetString(c, "status.phase") != "Bound")
        queue_->Add(kPvcPrefix + controller::MakeKey(Namespace(c), Name(c)));
  }
}

Result<Requeue> LocalProvisioner::Reconcile(const std::string& key) {
  if (key.rfind(kPvPrefix, 0) == 0) return ReconcileVolume(key.substr(sizeof(kPvPrefix) - 1));
  std::string ns, name;
  if (!controller::SplitKey(key.substr(sizeof(kPvcPrefix) - 1), &ns, &name))
    return MakeError(Code::kInvalidArgument, "bad key " + key);
  return ReconcileClaim(ns, name);
}

void LocalProvisioner::Warn(const Json& claim, const std::string& reason,
                            const std::string& message) {
  {
    std::lock_guard l(warned_mu_);
    if (warned_.size() > 10000) warned_.clear();  // bounded: at worst an event is repeated
    if (!warned_.insert(Uid(claim) + "/" + message).second) return;
  }
  ASB_LOG(WARN, "provisioner: claim not provisioned", "claim", Namespace(claim) + "/" + Name(claim),
          "reason", reason, "message", message);
  controller::RecordEvent(store_, clock_, api::PersistentVolumeClaimResource(), claim, "Warning",
                          reason, message);
}

Result<Requeue> LocalProvisioner::ReconcileClaim(const std::string& ns, const std::string& name) {
  const api::ResourceInfo& pvc_res = api::PersistentVolumeClaimResource();
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> claim, GetIfExists(store_, pvc_res, ns, name));
  if (!claim || controller::IsDeleting(*claim)) return Requeue::None();
  if (GetString(*claim, "status.phase").empty()) {
    ASB_RETURN_IF_ERROR(
        controller::WriteStatusIfChanged(store_, pvc_res, *claim, {{"phase", "Pending"}}));
    return Requeue::After(Duration(0));  // re-read: the write changed resourceVersion
  }

  std::string class_name = GetString(*claim, "spec.storageClassName");
  if (class_name.empty() && !Find(*claim, "spec.volumeName")) {
    auto classes = store_.List(api::StorageClassResource(), "", store::ListOptions{});
    if (!classes) return tl::unexpected(classes.error());
    for (const auto& c : classes->items)
      if (api::IsDefaultClass(c)) class_name = Name(c);
    if (class_name.empty()) {
      Warn(*claim, "ProvisioningFailed",
           "no StorageClass is marked default and the claim names none (spec.storageClassName)");
      return Requeue::None();
    }
    Json updated = *claim;
    updated["spec"]["storageClassName"] = class_name;
    auto r = store_.Update(pvc_res, updated);
    if (!r && r.error().code != Code::kAborted) return tl::unexpected(r.error());
    return Requeue::After(Duration(0));
  }
  // A claim that names its volume (pre-bound, or bound by us earlier) needs no class.
  std::optional<store::Object> storage_class;
  if (GetString(*claim, "spec.volumeName").empty()) {
    ASB_ASSIGN_OR_RETURN(storage_class,
                         GetIfExists(store_, api::StorageClassResource(), "", class_name));
    if (!storage_class) {
      Warn(*claim, "ProvisioningFailed",
           "storageclass.storage.k8s.io \"" + class_name + "\" not found");
      return Requeue::None();
    }
    const std::string provisioner = GetString(*storage_class, "provisioner");
    if (provisioner != kLocalProvisioner) {
      Warn(*claim, "ExternalProvisioning",
           "Waiting for a volume to be created by the external provisioner '" + provisioner +
               "' (asbd provisions only StorageClasses of '" + kLocalProvisioner + "')");
      return Requeue::None();
    }
  }

  const std::string pv_name = "pvc-" + Uid(*claim);
  std::string volume_name = GetString(*claim, "spec.volumeName");
  if (volume_name.empty() && options_.wait_for_first_consumer) {
    ASB_ASSIGN_OR_RETURN(bool here, SelectedHere(*claim));
    if (!here) return Requeue::None();  // a pod bound here, or the node selected, re-queues it
  }
  if (volume_name.empty()) {
    const int64_t bytes = api::RequestedStorageBytes(claim->at("spec"));
    if (bytes > options_.max_volume_bytes) {
      Warn(*claim, "ProvisioningFailed",
           "requested storage " + GetString(*claim, "spec.resources.requests.storage") +
               " is more than this node's maximum volume size " +
               HumanBytes(options_.max_volume_bytes) + " (asbd --max-volume-bytes)");
      return Requeue::None();
    }
    if (Status s = volumes_.Create(pv_name, bytes); !s) {
      Warn(*claim, "ProvisioningFailed", "making the volume: " + s.error().message);
      return tl::unexpected(s.error());
    }
    Json pv = BuildVolume(*claim, *storage_class, pv_name, volumes_.MountPath(pv_name),
                          options_.wait_for_first_consumer ? options_.node_name : "");
    auto created = store_.Create(api::PersistentVolumeResource(), pv);
    if (!created && created.error().code != Code::kAlreadyExists)
      return tl::unexpected(created.error().Wrap("create PersistentVolume " + pv_name));
    Json updated = *claim;
    updated["spec"]["volumeName"] = pv_name;
    Json& ann = updated["metadata"]["annotations"];
    if (!ann.is_object()) ann = Json::object();
    ann["pv.kubernetes.io/bind-completed"] = "yes";
    ann["pv.kubernetes.io/bound-by-controller"] = "yes";
    ann["volume.kubernetes.io/storage-provisioner"] = kLocalProvisioner;
    auto r = store_.Update(pvc_res, updated);
    if (!r) {
      if (r.error().code == Code::kAborted) return Requeue::After(Duration(0));
      return tl::unexpected(r.error().Wrap("bind claim"));
    }
    controller::RecordEvent(store_, clock_, pvc_res, *r, "Normal", "ProvisioningSucceeded",
                            "Successfully provisioned volume " + pv_name);
    claim = std::move(*r);
    volume_name = pv_name;
  }

  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pv,
                       GetIfExists(store_, api::PersistentVolumeResource(), "", volume_name));
  if (pv && options_.wait_for_first_consumer && VolumeNodeAffinity(*pv) != options_.node_name)
    return Requeue::None();  // another node's volume: that node keeps both statuses
  if (pv && GetString(*pv, "spec.claimRef.uid") != Uid(*claim)) {
    // spec.volumeName naming a volume made for another claim (any namespace): never bound to
    // it, or that claim's data would be mounted here.
    Warn(*claim, "FailedBinding",
         "volume \"" + volume_name + "\" is bound to another claim; this claim can't use it");
    return Requeue::None();
  }
  if (!pv) {
    // Kubernetes' ClaimLost: the volume it was bound to is gone; the data with it.
    ASB_RETURN_IF_ERROR(
        controller::WriteStatusIfChanged(store_, pvc_res, *claim, {{"phase", "Lost"}}));
    Warn(*claim, "ClaimLost", "Bound claim has lost its PersistentVolume " + volume_name);
    return Requeue::None();
  }
  ASB_RETURN_IF_ERROR(controller::WriteStatusIfChanged(store_, api::PersistentVolumeResource(), *pv,
                                                       {{"phase", "Bound"}}));
  Json status = {{"phase", "Bound"},
                 {"accessModes", pv->at("spec").value("accessModes", Json::array())},
                 {"capacity", pv->at("spec").value("capacity", Json::object())}};
  ASB_RETURN_IF_ERROR(controller::WriteStatusIfChanged(store_, pvc_res, *claim, status));
  return Requeue::None();
}

Result<bool> LocalProvisioner::SelectedHere(store::Object& claim) {
  const std::string selected = controller::Annotation(claim, kSelectedNodeAnnotation).value_or("");
  if (!selected.empty()) return selected == options_.node_name;
  // Not selected yet: this node's, once a pod bound here mounts it.
  auto pods = store_.List(api::PodResource(), Namespace(claim), store::ListOptions{});
  if (!pods) return tl::unexpected(pods.error());
  bool consumer_here = false;
  for (const auto& p : pods->items) {
    if (GetString(p, "spec.nodeName") != options_.node_name || controller::IsDeleting(p)) continue;
    for (const std::string& c : PodClaims(p)) consumer_here |= c == Name(claim);
  }
  if (!consumer_here) return false;
  Json updated = claim;
  controller::SetAnnotation(updated, kSelectedNodeAnnotation, options_.node_name);
  auto r = store_.Update(api::PersistentVolumeClaimResource(), updated);
  if (!r) {
    // Another node's provisioner annotated it first: the watch brings that, and it is not ours.
    if (r.error().code == Code::kAborted) return false;
    return tl::unexpected(r.error().Wrap("select node for claim"));
  }
  ASB_LOG(INFO, "provisioner: claim selected for this node", "claim",
          Namespace(claim) + "/" + Name(claim), "node", options_.node_name);
  claim = std::move(*r);
  return true;
}

Result<Requeue> LocalProvisioner::ReconcileVolume(const std::string& name) {
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pv,
                       GetIfExists(store_, api::PersistentVolumeResource(), "", name));
  if (!pv) {
    // Deleted (by us below, or by a user): its data goes with it.
    ASB_RETURN_IF_ERROR(volumes_.Remove(name));
    return Requeue::None();
  }
  // Only volumes this provisioner made are its to release.
  if (controller::Annotation(*pv, "pv.kubernetes.io/provisioned-by").value_or("") !=
      kLocalProvisioner)
    return Requeue::None();
  if (options_.wait_for_first_consumer && VolumeNodeAffinity(*pv) != options_.node_name)
    return Requeue::None();
  const Json* ref = Find(*pv, "spec.claimRef");
  std::optional<store::Object> claim;
  if (ref && ref->is_object()) {
    ASB_ASSIGN_OR_RETURN(claim, GetIfExists(store_, api::PersistentVolumeClaimResource(),
                                            GetString(*ref, "namespace"), GetString(*ref, "name")));
    if (claim && Uid(*claim) != GetString(*ref, "uid")) claim.reset();
  }
  if (claim) return Requeue::None();  // bound; the claim's reconcile writes both statuses
  if (GetString(*pv, "spec.persistentVolumeReclaimPolicy", "Retain") == "Delete") {
    ASB_RETURN_IF_ERROR(volumes_.Remove(name));
    ASB_RETURN_IF_ERROR(
        controller::DeleteIfExists(store_, api::PersistentVolumeResource(), "", name, Uid(*pv)));
    ASB_LOG(INFO, "provisioner: deleted volume of a deleted claim", "pv", name);
    return Requeue::None();
  }
  ASB_RETURN_IF_ERROR(controller::WriteStatusIfChanged(store_, api::PersistentVolumeResource(), *pv,
                                                       {{"phase", "Released"}}));
  return Requeue::None();
}

Status LocalProvisioner::EnsureDefaultClass() {
  auto classes = store_.List(api::StorageClassResource(), "", store::ListOptions{});
  if (!classes) return tl::unexpected(classes.error().Wrap("list storage classes"));
  for (const auto& c : classes->items)
    if (api::IsDefaultClass(c)) return OkStatus();
  Json sc = {
      {"apiVersion", "storage.k8s.io/v1"},
      {"kind", "StorageClass"},
      {"metadata",
       {{"name", kDefaultClassName}, {"annotations", {{api::kDefaultClassAnnotation, "true"}}}}},
      {"provisioner", kLocalProvisioner},
      {"reclaimPolicy", "Delete"},
      {"volumeBindingMode",
       options_.wait_for_first_consumer ? "WaitForFirstConsumer" : "Immediate"},
      {"allowVolumeExpansion", false}};
  auto r = store_.Create(api::StorageClassResource(), sc);
  if (!r && r.error().code != Code::kAlreadyExists)
    return tl::unexpected(r.error().Wrap("create StorageClass " + std::string(kDefaultClassName)));
  return OkStatus();
}

void LocalProvisioner::SweepOrphans() {
  for (const std::string& name : volumes_.List()) {
    auto pv = GetIfExists(store_, api::PersistentVolumeResource(), "", name);
    if (!pv || *pv) continue;
    ASB_LOG(INFO, "provisioner: removing a volume no PersistentVolume names", "volume", name);
    if (Status s = volumes_.Remove(name); !s)
      ASB_LOG(WARN, "provisioner: removing orphaned volume failed", "volume", name, "error",
              s.error().message);
  }
}

}  // namespace asb::storage
