// The store's garbage collector: Kubernetes ownerReference cascading deletion and namespace
// termination, run on one background thread.
//
// It is driven by the store's own writes: WriteLocked calls NoteWriteForGc, which queues the uids
// of owners that vanished or started a foreground deletion, owners named by new dangling
// references, and terminating namespaces. The thread waits on a condition variable (no polling)
// and acts through the public Store methods, so every change it makes is an ordinary, durable,
// watched write. At Open, ScanForGc queues whatever a crash may have left half done.
//
// Semantics (k8s.io/kubernetes/pkg/controller/garbagecollector, simplified):
// - An owner is "absent" when no object has its uid. Dependents of an absent owner are deleted
//   (background) unless another owner of theirs is still solid, in which case only the dangling
//   reference is removed.
// - An owner deleted with Propagation::kForeground carries the "foregroundDeletion" finalizer:
//   its dependents are deleted with foreground propagation too (so the cascade is depth-first),
//   and when none remain the finalizer is removed, which lets the owner go.
// - A terminating namespace has its contents deleted; when nothing is left it is removed.
#include "base/log.h"
#include "store/object_meta.h"
#include "store/object_store.h"
#include "store/store_util.h"

namespace asb::store {

using internal::HasFinalizer;
using internal::IsDeleting;
using internal::kForegroundFinalizer;
using internal::MetaString;
using internal::OwnerUids;

void ObjectStore::StartGc() {
  gc_thread_ = std::thread([this] { GcLoop(); });
}

void ObjectStore::StopGc() {
  {
    std::lock_guard l(gc_mu_);
    gc_stop_ = true;
  }
  gc_cv_.notify_all();
  if (gc_thread_.joinable()) gc_thread_.join();
}

bool ObjectStore::GcIdle() {
  std::lock_guard l(gc_mu_);
  return gc_queue_.empty() && !gc_busy_;
}

void ObjectStore::EnqueueGc(GcWork work) {
  std::lock_guard l(gc_mu_);
  if (gc_stop_ || !gc_queued_.insert(work).second) return;
  gc_queue_.push_back(std::move(work));
  gc_cv_.notify_one();
}

void ObjectStore::GcLoop() {
  std::unique_lock l(gc_mu_);
  while (true) {
    gc_cv_.wait(l, [&] { return gc_stop_ || !gc_queue_.empty(); });
    if (gc_stop_) return;
    GcWork work = std::move(gc_queue_.front());
    gc_queue_.pop_front();
    gc_queued_.erase(work);
    gc_busy_ = true;
    l.unlock();
    if (work.kind == GcWork::Kind::kOwner) {
      ProcessOwner(work.id);
    } else {
      ProcessNamespace(work.id);
    }
    l.lock();
    gc_busy_ = false;
  }
}

void ObjectStore::NoteWriteForGc(const Key& key, const ObjPtr& obj, const ObjPtr& prev) {
  // Runs under writer_mu_, so the index is stable without state_mu_.
  static const std::string kNamespaces = api::NamespaceResource().GroupResource();
  if (!obj) {
    // Removed: its dependents may need collecting, an owner waiting in foreground may be done,
    // and a terminating namespace may now be empty.
    const std::string uid = MetaString(*prev, "uid");
    if (dependents_.count(uid)) EnqueueGc({GcWork::Kind::kOwner, uid});
    for (const std::string& owner : OwnerUids(*prev)) EnqueueGc({GcWork::Kind::kOwner, owner});
    if (!key.ns.empty()) {
      ObjPtr ns = FindLocked({kNamespaces, "", key.ns});
      if (ns && IsDeleting(*ns)) EnqueueGc({GcWork::Kind::kNamespace, key.ns});
    }
    return;
  }
  if (IsDeleting(*obj)) {
    if (HasFinalizer(*obj, kForegroundFinalizer))
      EnqueueGc({GcWork::Kind::kOwner, MetaString(*obj, "uid")});
    if (key.resource == kNamespaces) EnqueueGc({GcWork::Kind::kNamespace, key.name});
  }
  for (const std::string& owner : OwnerUids(*obj))
    if (!by_uid_.count(owner)) EnqueueGc({GcWork::Kind::kOwner, owner});
}

void ObjectStore::ScanForGc() {
  static const std::string kNamespaces = api::NamespaceResource().GroupResource();
  std::lock_guard w(writer_mu_);
  for (const auto& [resource, table] : tables_) {
    for (const auto& [nsname, obj] : table) {
      for (const std::string& owner : OwnerUids(*obj))
        if (!by_uid_.count(owner)) EnqueueGc({GcWork::Kind::kOwner, owner});
      if (IsDeleting(*obj)) {
        if (HasFinalizer(*obj, kForegroundFinalizer))
          EnqueueGc({GcWork::Kind::kOwner, MetaString(*obj, "uid")});
        if (resource == kNamespaces) EnqueueGc({GcWork::Kind::kNamespace, nsname.second});
      }
    }
  }
}

namespace {

void LogIfFailed(const char* what, const std::string& name, const Error& e) {
  // NotFound / Aborted mean someone else got there first: the next event re-queues if needed.
  if (e.code == Code::kNotFound || e.code == Code::kAborted) return;
  ASB_LOG(WARN, "garbage collector: action failed", "action", what, "object", name, "error",
          e.message);
}

}  // namespace

void ObjectStore::ProcessOwner(const std::string& uid) {
  struct Dep {
    Key key;
    ObjPtr obj;
    bool other_solid_owner = false;
  };
  ObjPtr owner;
  Key owner_key;
  std::vector<Dep> deps;
  {
    std::shared_lock state(state_mu_);
    auto solid = [&](const std::string& owner_uid) {
      auto it = by_uid_.find(owner_uid);
      if (it == by_uid_.end()) return false;
      ObjPtr o = FindLocked(it->second);
      return o && !(IsDeleting(*o) && HasFinalizer(*o, kForegroundFinalizer));
    };
    if (auto it = by_uid_.find(uid); it != by_uid_.end()) {
      owner_key = it->second;
      owner = FindLocked(owner_key);
    }
    if (auto it = dependents_.find(uid); it != dependents_.end()) {
      for (const Key& k : it->second) {
        ObjPtr o = FindLocked(k);
        if (!o) continue;
        Dep d{k, o};
        for (const std::string& other : OwnerUids(*o))
          if (other != uid && solid(other)) d.other_solid_owner = true;
        deps.push_back(std::move(d));
      }
    }
  }
  bool foreground = false;
  if (owner) {
    foreground = IsDeleting(*owner) && HasFinalizer(*owner, kForegroundFinalizer);
    if (!foreground) return;  // a live owner: nothing to collect
    if (deps.empty()) {
      const api::ResourceInfo* res = ResourceFor(owner_key.resource);
      if (!res) return;
      auto done =
          UpdateWithRetry(*this, *res, owner_key.ns, owner_key.name, [&](Object& o) -> Status {
            if (MetaString(o, "uid") != uid || !HasFinalizer(o, kForegroundFinalizer))
              return NoChange();
            Json kept = Json::array();
            for (const Json& f : o["metadata"]["finalizers"])
              if (f != kForegroundFinalizer) kept.push_back(f);
            o["metadata"]["finalizers"] = std::move(kept);
            return OkStatus();
          });
      if (!done) LogIfFailed("remove foregroundDeletion", owner_key.name, done.error());
      return;
    }
  }
  for (const Dep& d : deps) {
    const api::ResourceInfo* res = ResourceFor(d.key.resource);
    if (!res) continue;
    if (d.other_solid_owner) {
      // Another owner still holds it: only drop the reference to this one.
      auto done = UpdateWithRetry(*this, *res, d.key.ns, d.key.name, [&](Object& o) -> Status {
        Json* refs = &o["metadata"]["ownerReferences"];
        if (!refs->is_array()) return NoChange();
        Json kept = Json::array();
        for (const Json& r : *refs)
          if (!(r.is_object() && r.contains("uid") && r["uid"] == uid)) kept.push_back(r);
        if (kept.size() == refs->size()) return NoChange();
        *refs = std::move(kept);
        return OkStatus();
      });
      if (!done) LogIfFailed("remove ownerReference", d.key.name, done.error());
      continue;
    }
    if (IsDeleting(*d.obj)) continue;  // already on its way
    DeleteOptions opts;
    opts.propagation = foreground ? Propagation::kForeground : Propagation::kBackground;
    opts.precondition_uid = MetaString(*d.obj, "uid");
    auto done = Delete(*res, d.key.ns, d.key.name, opts);
    if (!done) LogIfFailed("delete dependent", d.key.name, done.error());
  }
}

void ObjectStore::ProcessNamespace(const std::string& ns) {
  const api::ResourceInfo& ns_res = api::NamespaceResource();
  std::vector<std::pair<Key, ObjPtr>> contents;
  ObjPtr ns_obj;
  {
    std::shared_lock state(state_mu_);
    ns_obj = FindLocked({ns_res.GroupResource(), "", ns});
    if (!ns_obj || !IsDeleting(*ns_obj)) return;
    for (const auto& [resource, table] : tables_) {
      for (auto it = table.lower_bound({ns, ""}); it != table.end() && it->first.first == ns; ++it)
        contents.push_back({Key{resource, ns, it->first.second}, it->second});
    }
  }
  for (const auto& [key, obj] : contents) {
    if (IsDeleting(*obj)) continue;  // waiting for its finalizers
    const api::ResourceInfo* res = ResourceFor(key.resource);
    if (!res) continue;
    DeleteOptions opts;
    opts.precondition_uid = MetaString(*obj, "uid");
    auto done = Delete(*res, key.ns, key.name, opts);
    if (!done) LogIfFailed("delete namespace content", key.name, done.error());
  }
  if (!contents.empty()) return;  // the last removal re-queues this namespace
  // Empty: remove the namespace itself (unless someone's finalizer still holds it).
  std::lock_guard w(writer_mu_);
  Key key{ns_res.GroupResource(), "", ns};
  ObjPtr cur = FindLocked(key);
  if (!cur || !IsDeleting(*cur) || !internal::Finalizers(*cur).empty()) return;
  if (MetaString(*cur, "uid") != MetaString(*ns_obj, "uid")) return;
  for (const auto& [resource, table] : tables_) {
    auto it = table.lower_bound({ns, ""});
    if (it != table.end() && it->first.first == ns) return;  // something was created meanwhile
  }
  auto done = WriteLocked(key, nullptr, cur);
  if (!done) LogIfFailed("remove namespace", ns, done.error());
}

}  // namespace asb::store
