#include "store/object_store.h"

#include <algorithm>

#include "api/initial_status.h"
#include "base/log.h"
#include "base/strings.h"
#include "store/object_meta.h"
#include "store/selector.h"

namespace asb::store {

using internal::CheckObject;
using internal::DecodeContinue;
using internal::EncodeContinue;
using internal::Finalizers;
using internal::HasFinalizer;
using internal::IsDeleting;
using internal::IsNamespaceResource;
using internal::kForegroundFinalizer;
using internal::MetaField;
using internal::MetaString;
using internal::NewUuid;
using internal::NotFoundMessage;
using internal::OwnerUids;
using internal::QualifiedKind;
using internal::Quote;
using internal::RandomSuffix;
using internal::SpecEqual;
using internal::ValidateName;

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
    case EventType::kBookmark:
      return "BOOKMARK";
  }
  return "UNKNOWN";
}

// ---------------------------------------------------------------------------------------------
// Open / load

ObjectStore::ObjectStore(std::unique_ptr<ObjectLog> log, ObjectStoreOptions options)
    : options_(options),
      clock_(options.clock ? options.clock : &RealClock::Get()),
      log_(std::move(log)),
      hub_(options.watch_log_capacity, options.watcher_buffer) {}

Result<std::unique_ptr<ObjectStore>> ObjectStore::Open(std::unique_ptr<ObjectLog> log,
                                                       ObjectStoreOptions options) {
  std::unique_ptr<ObjectStore> store(new ObjectStore(std::move(log), options));
  ASB_RETURN_IF_ERROR(store->Init());
  return store;
}

Status ObjectStore::Init() {
  ASB_RETURN_IF_ERROR(Load());
  for (const char* ns : {"default", "kube-system"}) {
    Json obj = {{"metadata", {{"name", ns}}}};
    auto created = Create(api::NamespaceResource(), std::move(obj));
    if (!created && created.error().code != Code::kAlreadyExists)
      return tl::unexpected(created.error());
  }
  if (options_.gc) {
    ScanForGc();
    StartGc();
  }
  return OkStatus();
}

Status ObjectStore::Load() {
  std::lock_guard w(writer_mu_);
  std::unique_lock state(state_mu_);
  size_t count = 0;
  ASB_ASSIGN_OR_RETURN(int64_t rev, log_->Load([&](ObjectKey key, Json obj) {
    IndexPut(key, std::make_shared<const Json>(std::move(obj)), nullptr);
    ++count;
  }));
  revision_.store(rev);
  hub_.StartAt(rev);
  ASB_LOG(INFO, "store opened", "objects", count, "revision", rev);
  return OkStatus();
}

ObjectStore::~ObjectStore() { StopGc(); }

// ---------------------------------------------------------------------------------------------
// Index

ObjectStore::ObjPtr ObjectStore::FindLocked(const Key& key) const {
  auto t = tables_.find(key.resource);
  if (t == tables_.end()) return nullptr;
  auto it = t->second.find({key.ns, key.name});
  return it == t->second.end() ? nullptr : it->second;
}

void ObjectStore::IndexPut(const Key& key, ObjPtr obj, const ObjPtr& prev) {
  if (prev) {
    for (const std::string& uid : OwnerUids(*prev)) {
      auto it = dependents_.find(uid);
      if (it != dependents_.end()) {
        it->second.erase(key);
        if (it->second.empty()) dependents_.erase(it);
      }
    }
  }
  for (const std::string& uid : OwnerUids(*obj)) dependents_[uid].insert(key);
  std::string uid = MetaString(*obj, "uid");
  if (!uid.empty()) by_uid_[uid] = key;
  labels_.Update(key.resource, {key.ns, key.name}, prev.get(), obj.get());
  tables_[key.resource][{key.ns, key.name}] = std::move(obj);
}

void ObjectStore::IndexErase(const Key& key, const ObjPtr& prev) {
  for (const std::string& uid : OwnerUids(*prev)) {
    auto it = dependents_.find(uid);
    if (it != dependents_.end()) {
      it->second.erase(key);
      if (it->second.empty()) dependents_.erase(it);
    }
  }
  by_uid_.erase(MetaString(*prev, "uid"));
  labels_.Update(key.resource, {key.ns, key.name}, prev.get(), nullptr);
  auto t = tables_.find(key.resource);
  if (t != tables_.end()) t->second.erase({key.ns, key.name});
}

// ---------------------------------------------------------------------------------------------
// Write path

Status ObjectStore::CheckNotInTxn() const {
  if (txn_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id())
    return MakeError(Code::kFailedPrecondition,
                     "store write from inside a Transact: use its Txn (the store is locked)");
  return OkStatus();
}

ObjectStore::ObjPtr ObjectStore::FindForWrite(const Key& key) const {
  if (batch_) {
    auto it = batch_->overlay.find(key);
    if (it != batch_->overlay.end()) return it->second;
  }
  return FindLocked(key);
}

Result<ObjectStore::ObjPtr> ObjectStore::WriteLocked(const Key& key, std::shared_ptr<Json> obj,
                                                     ObjPtr prev) {
  Batch single;
  Batch& batch = batch_ ? *batch_ : single;
  const bool remove = obj == nullptr;
  const int64_t rev =
      revision_.load(std::memory_order_relaxed) + static_cast<int64_t>(batch.writes.size()) + 1;
  std::shared_ptr<Json> published = obj;
  if (remove) {
    // The DELETED event and Delete's return value carry the last state at the deletion revision.
    published = std::make_shared<Json>(*prev);
  }
  (*published)["metadata"]["resourceVersion"] = std::to_string(rev);
  batch.writes.push_back(Pending{key, published, std::move(prev), remove, rev});
  if (batch_) {
    batch.overlay[key] = remove ? nullptr : published;
  } else {
    ASB_RETURN_IF_ERROR(CommitLocked(single));
  }
  return ObjPtr(std::move(published));
}

Status ObjectStore::CommitLocked(const Batch& batch) {
  if (batch.writes.empty()) return OkStatus();
  std::vector<LogWrite> log_writes;
  log_writes.reserve(batch.writes.size());
  for (const Pending& w : batch.writes)
    log_writes.push_back(LogWrite{w.revision, &w.key, w.remove ? nullptr : w.published.get()});
  ASB_RETURN_IF_ERROR(log_->Commit(log_writes));
  {
    // Readers see the whole batch or none of it; events go out in revision order.
    std::unique_lock state(state_mu_);
    for (const Pending& w : batch.writes) {
      if (w.remove) {
        IndexErase(w.key, w.prev);
      } else {
        IndexPut(w.key, w.published, w.prev);
      }
    }
    revision_.store(batch.writes.back().revision, std::memory_order_release);
    for (const Pending& w : batch.writes) {
      EventType type = w.remove ? EventType::kDeleted
                       : w.prev ? EventType::kModified
                                : EventType::kAdded;
      hub_.Publish(WatchHub::Event{w.revision, w.key.resource, type, w.published, w.prev});
    }
  }
  if (options_.gc) {
    for (const Pending& w : batch.writes)
      NoteWriteForGc(w.key, w.remove ? nullptr : w.published, w.remove ? w.published : w.prev);
  }
  return OkStatus();
}

Result<Object> ObjectStore::Create(const api::ResourceInfo& res, Object obj,
                                   const CreateOptions& options) {
  ASB_RETURN_IF_ERROR(CheckNotInTxn());
  ObjPtr written;
  {
    std::lock_guard w(writer_mu_);
    ASB_ASSIGN_OR_RETURN(written, CreateLocked(res, std::move(obj), options));
  }
  return *written;  // the caller's copy, made after the writer lock (stored objects are immutable)
}

Result<ObjectStore::ObjPtr> ObjectStore::CreateLocked(const api::ResourceInfo& res, Object obj,
                                                      const CreateOptions& options) {
  ASB_RETURN_IF_ERROR(CheckObject(res, obj));
  Json& meta = obj["metadata"];
  if (meta.is_null()) meta = Json::object();
  if (!MetaString(obj, "resourceVersion").empty())
    return MakeError(Code::kInvalidArgument,
                     "resourceVersion should not be set on objects to be created");
  std::string ns;
  if (res.namespaced) {
    ns = MetaString(obj, "namespace");
    if (ns.empty())
      return MakeError(Code::kInvalidArgument,
                       QualifiedKind(res) + " is invalid: metadata.namespace: Required value");
    ObjPtr nso = FindForWrite({api::NamespaceResource().GroupResource(), "", ns});
    // Both errors are about the namespace, not the object: details say so (Kubernetes' Status).
    auto about_ns = [&] {
      return std::make_shared<ErrorDetails>(ErrorDetails{ns, "", "namespaces", {}});
    };
    if (!nso)
      return MakeError(Code::kNotFound, "", "namespaces " + Quote(ns) + " not found", about_ns());
    if (IsDeleting(*nso))
      return MakeError(
          Code::kPermissionDenied, "",
          "unable to create new content in namespace " + ns + " because it is being terminated",
          about_ns());
  } else {
    meta.erase("namespace");
  }
  std::string name = MetaString(obj, "name");
  const std::string resource = res.GroupResource();
  if (name.empty()) {
    std::string prefix = MetaString(obj, "generateName");
    if (prefix.empty())
      return MakeError(Code::kInvalidArgument,
                       QualifiedKind(res) +
                           " is invalid: metadata.name: Required value: name or generateName is "
                           "required");
    if (prefix.size() > 58) prefix.resize(58);  // leave room for the suffix (Kubernetes' rule)
    for (int attempt = 0; attempt < 16; ++attempt) {
      std::string candidate = prefix + RandomSuffix();
      if (!FindForWrite({resource, ns, candidate})) {
        name = std::move(candidate);
        break;
      }
    }
    if (name.empty())
      return MakeError(Code::kAlreadyExists, res.GroupResource() + " with generateName " +
                                                 Quote(prefix) + " could not find a free name");
    meta["name"] = name;
  }
  ASB_RETURN_IF_ERROR(ValidateName(res, name));
  Key key{resource, ns, name};
  if (FindForWrite(key))
    return MakeError(Code::kAlreadyExists,
                     res.GroupResource() + " " + Quote(name) + " already exists");

  obj["apiVersion"] = res.ApiVersion();
  obj["kind"] = res.kind;
  meta["uid"] = NewUuid();
  meta["creationTimestamp"] = FormatRfc3339(clock_->Now());
  meta["generation"] = 1;
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  if (res.has_status && !options.keep_status) {
    // Status is owned by the status subresource: a create can't set it (Kubernetes drops it),
    // except for the initial phase the built-in kinds start in.
    obj.erase("status");
    if (Json initial = api::InitialStatus(res); !initial.is_null())
      obj["status"] = std::move(initial);
  }
  ASB_ASSIGN_OR_RETURN(ObjPtr written,
                       WriteLocked(key, std::make_shared<Json>(std::move(obj)), nullptr));
  return written;
}

Result<Object> ObjectStore::Update(const api::ResourceInfo& res, Object obj,
                                   const UpdateOptions& options) {
  ASB_RETURN_IF_ERROR(CheckNotInTxn());
  ObjPtr written;
  {
    std::lock_guard w(writer_mu_);
    ASB_ASSIGN_OR_RETURN(written, UpdateLocked(res, std::move(obj), options));
  }
  return *written;  // the caller's copy, made after the writer lock (stored objects are immutable)
}

Result<ObjectStore::ObjPtr> ObjectStore::UpdateLocked(const api::ResourceInfo& res, Object obj,
                                                      const UpdateOptions& options) {
  ASB_RETURN_IF_ERROR(CheckObject(res, obj));
  std::string name = MetaString(obj, "name");
  if (name.empty())
    return MakeError(Code::kInvalidArgument,
                     QualifiedKind(res) + " is invalid: metadata.name: Required value");
  std::string ns = res.namespaced ? MetaString(obj, "namespace") : "";
  if (res.namespaced && ns.empty())
    return MakeError(Code::kInvalidArgument,
                     QualifiedKind(res) + " is invalid: metadata.namespace: Required value");
  Key key{res.GroupResource(), ns, name};
  ObjPtr old = FindForWrite(key);
  if (!old) return MakeError(Code::kNotFound, NotFoundMessage(res, name));
  const std::string old_rv = MetaString(*old, "resourceVersion");
  const std::string rv = MetaString(obj, "resourceVersion");
  if (!rv.empty() && rv != old_rv)
    return MakeError(Code::kAborted, "Operation cannot be fulfilled on " + res.GroupResource() +
                                         " " + Quote(name) +
                                         ": the object has been modified; please apply your "
                                         "changes to the latest version and try again");
  const std::string old_uid = MetaString(*old, "uid");
  const std::string uid = MetaString(obj, "uid");
  if (!uid.empty() && uid != old_uid)
    return MakeError(Code::kAborted, "Operation cannot be fulfilled on " + res.GroupResource() +
                                         " " + Quote(name) +
                                         ": Precondition failed: UID in "
                                         "precondition: " +
                                         uid + ", UID in object meta: " + old_uid);

  auto next = std::make_shared<Json>();
  if (options.status_only) {
    if (!res.has_status)
      return MakeError(Code::kNotFound, res.GroupResource() + " has no status subresource");
    *next = *old;
    auto st = obj.find("status");
    if (st == obj.end() || st->is_null()) {
      next->erase("status");
    } else {
      (*next)["status"] = std::move(*st);
    }
  } else {
    *next = std::move(obj);
    if (res.has_status) {
      auto st = old->find("status");
      if (st == old->end()) {
        next->erase("status");
      } else {
        (*next)["status"] = *st;
      }
    }
    (*next)["apiVersion"] = res.ApiVersion();
    (*next)["kind"] = res.kind;
    Json& meta = (*next)["metadata"];
    if (!res.namespaced) meta.erase("namespace");
    // Fields only the store sets: carried over from the stored object.
    for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"}) {
      const Json* v = MetaField(*old, f);
      if (v) {
        meta[f] = *v;
      } else {
        meta.erase(f);
      }
    }
    if (IsDeleting(*old)) {
      std::vector<std::string> before = Finalizers(*old);
      for (const std::string& f : Finalizers(*next))
        if (std::find(before.begin(), before.end(), f) == before.end())
          return MakeError(Code::kInvalidArgument,
                           QualifiedKind(res) + " " + Quote(name) +
                               " is invalid: metadata.finalizers: Forbidden: no new finalizers "
                               "can be added if the object is being deleted");
    }
    if (!SpecEqual(*next, *old)) {
      const Json* g = MetaField(*old, "generation");
      int64_t gen = g && g->is_number_integer() ? g->get<int64_t>() : 0;
      meta["generation"] = gen + 1;
    }
  }
  (*next)["metadata"]["resourceVersion"] = old_rv;
  // A no-op update neither bumps the revision nor wakes watchers (as in Kubernetes), so
  // controllers that write the same status every reconcile don't cause event storms.
  if (*next == *old) return old;
  const bool remove = IsDeleting(*next) && Finalizers(*next).empty();
  if (remove) {
    auto last = std::make_shared<const Json>(std::move(*next));
    // The deletion event carries `last` at the deletion revision, which is what the caller gets.
    ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(key, nullptr, last));
    return written;
  }
  ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(key, next, old));
  return written;
}

Result<Object> ObjectStore::Delete(const api::ResourceInfo& res, const std::string& ns,
                                   const std::string& name, const DeleteOptions& options) {
  ASB_RETURN_IF_ERROR(CheckNotInTxn());
  ObjPtr written;
  {
    std::lock_guard w(writer_mu_);
    ASB_ASSIGN_OR_RETURN(written, DeleteLocked(res, ns, name, options));
  }
  return *written;  // the caller's copy, made after the writer lock (stored objects are immutable)
}

Result<ObjectStore::ObjPtr> ObjectStore::DeleteLocked(const api::ResourceInfo& res,
                                                      const std::string& ns_in,
                                                      const std::string& name,
                                                      const DeleteOptions& options) {
  const std::string ns = res.namespaced ? ns_in : "";
  Key key{res.GroupResource(), ns, name};
  ObjPtr old = FindForWrite(key);
  if (!old) return MakeError(Code::kNotFound, NotFoundMessage(res, name));
  const std::string uid = MetaString(*old, "uid");
  if (options.precondition_uid && *options.precondition_uid != uid)
    return MakeError(Code::kAborted,
                     "Operation cannot be fulfilled on " + res.GroupResource() + " " + Quote(name) +
                         ": Precondition failed: UID in "
                         "precondition: " +
                         *options.precondition_uid + ", UID in object meta: " + uid);
  if (options.precondition_resource_version &&
      *options.precondition_resource_version != MetaString(*old, "resourceVersion"))
    return MakeError(
        Code::kAborted,
        "Operation cannot be fulfilled on " + res.GroupResource() + " " + Quote(name) +
            ": Precondition failed: ResourceVersion in precondition: " +
            *options.precondition_resource_version +
            ", ResourceVersion in object meta: " + MetaString(*old, "resourceVersion"));
  if (IsNamespaceResource(res) &&
      (name == "default" || name == "kube-system" || name == "kube-public"))
    return MakeError(
        Code::kPermissionDenied,
        "namespaces " + Quote(name) + " is forbidden: this namespace may not be deleted");
  if (IsDeleting(*old)) return old;

  if (options.propagation == Propagation::kOrphan) {
    // Orphaning happens here, before the owner goes, so no crash can leave dependents pointing at
    // a vanished owner (which the collector would then delete).
    std::vector<Key> deps;
    if (auto it = dependents_.find(uid); it != dependents_.end())
      deps.assign(it->second.begin(), it->second.end());
    for (const Key& dk : deps) {
      ObjPtr dep = FindForWrite(dk);
      if (!dep) continue;
      auto next = std::make_shared<Json>(*dep);
      Json& refs = (*next)["metadata"]["ownerReferences"];
      Json kept = Json::array();
      for (const Json& r : refs)
        if (!(r.is_object() && r.contains("uid") && r["uid"] == uid)) kept.push_back(r);
      if (kept.empty()) {
        (*next)["metadata"].erase("ownerReferences");
      } else {
        refs = std::move(kept);
      }
      ASB_RETURN_IF_ERROR(WriteLocked(dk, next, dep));
    }
  }

  const bool add_foreground =
      options.propagation == Propagation::kForeground && !HasFinalizer(*old, kForegroundFinalizer);
  const bool graceful = IsNamespaceResource(res) || add_foreground || !Finalizers(*old).empty();
  if (!graceful) {
    // Removed now: no copy to edit (WriteLocked makes the last state's).
    ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(key, nullptr, old));
    return written;
  }
  auto next = std::make_shared<Json>(*old);
  Json& meta = (*next)["metadata"];
  if (add_foreground) {
    if (!meta["finalizers"].is_array()) meta["finalizers"] = Json::array();
    meta["finalizers"].push_back(kForegroundFinalizer);
  }
  meta["deletionTimestamp"] = FormatRfc3339(clock_->Now());
  meta["deletionGracePeriodSeconds"] = 0;
  const Json* g = MetaField(*old, "generation");
  meta["generation"] = (g && g->is_number_integer() ? g->get<int64_t>() : 0) + 1;
  if (IsNamespaceResource(res)) (*next)["status"]["phase"] = "Terminating";
  ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(key, next, old));
  return written;
}

// ---------------------------------------------------------------------------------------------
// Reads

Result<Object> ObjectStore::Get(const api::ResourceInfo& res, const std::string& ns,
                                const std::string& name) {
  ObjPtr obj;
  {
    std::shared_lock state(state_mu_);
    obj = FindLocked({res.GroupResource(), res.namespaced ? ns : "", name});
  }
  if (!obj) return MakeError(Code::kNotFound, NotFoundMessage(res, name));
  return *obj;  // copied outside the lock: stored objects are immutable
}

Result<ListResult> ObjectStore::List(const api::ResourceInfo& res, const std::string& ns,
                                     const ListOptions& options) {
  // The matching is SharedList's, under the lock; the copies (a pool's whole member list for its
  // reconcile) are made after it, so they never hold up a writer.
  ASB_ASSIGN_OR_RETURN(SharedListResult shared, SharedList(res, ns, options));
  ListResult out;
  out.resource_version = shared.resource_version;
  out.continue_token = std::move(shared.continue_token);
  out.items.reserve(shared.items.size());
  for (const ObjPtr& obj : shared.items) out.items.push_back(*obj);
  return out;
}

Result<SharedListResult> ObjectStore::SharedList(const api::ResourceInfo& res,
                                                 const std::string& ns_in,
                                                 const ListOptions& options) {
  ASB_ASSIGN_OR_RETURN(LabelSelector labels, ParseLabelSelector(options.label_selector));
  ASB_ASSIGN_OR_RETURN(FieldSelector fields, ParseFieldSelector(res, options.field_selector));
  if (options.limit < 0) return MakeError(Code::kInvalidArgument, "limit must be >= 0");
  std::pair<std::string, std::string> start;
  bool has_start = false;
  if (!options.continue_token.empty()) {
    ASB_ASSIGN_OR_RETURN(start, DecodeContinue(options.continue_token));
    has_start = true;
  }
  const std::string ns = res.namespaced ? ns_in : "";
  SharedListResult out;
  std::vector<ObjPtr>& matched = out.items;
  {
    std::shared_lock state(state_mu_);
    out.resource_version = revision_.load(std::memory_order_acquire);
    auto t = tables_.find(res.GroupResource());
    if (t == tables_.end()) return out;
    const auto& table = t->second;
    // Visits one object in key order; false once the page is full.
    auto visit = [&](const ObjPtr& obj) {
      if (!labels.MatchesObject(*obj) || !fields.Matches(*obj)) return true;
      if (options.limit > 0 && static_cast<int64_t>(matched.size()) == options.limit) {
        const Json& last = *matched.back();
        out.continue_token = EncodeContinue(res.namespaced ? MetaString(last, "namespace") : "",
                                            MetaString(last, "name"));
        return false;
      }
      matched.push_back(obj);
      return true;
    };
    // Where the walk starts (both orders are the table's: namespace, then name).
    auto first = [&](const auto& keys) {
      auto it = has_start ? keys.upper_bound(start) : keys.lower_bound({ns, ""});
      if (has_start && !ns.empty() && start.first != ns) it = keys.lower_bound({ns, ""});
      return it;
    };
    if (const LabelIndex::NameSet* only = labels_.Candidates(t->first, labels)) {
      // Only the objects carrying the selector's narrowest label: a few of many sandboxes.
      for (auto it = first(*only); it != only->end(); ++it) {
        if (!ns.empty() && it->first != ns) break;
        auto obj = table.find(*it);
        if (obj != table.end() && !visit(obj->second)) break;
      }
    } else {
      for (auto it = first(table); it != table.end(); ++it) {
        if (!ns.empty() && it->first.first != ns) break;
        if (!visit(it->second)) break;
      }
    }
  }
  return out;
}

Result<std::unique_ptr<Watcher>> ObjectStore::Watch(const api::ResourceInfo& res,
                                                    const std::string& ns_in,
                                                    const WatchOptions& options) {
  ASB_ASSIGN_OR_RETURN(LabelSelector labels, ParseLabelSelector(options.label_selector));
  ASB_ASSIGN_OR_RETURN(FieldSelector fields, ParseFieldSelector(res, options.field_selector));
  if (options.resource_version < 0)
    return MakeError(Code::kInvalidArgument, "resourceVersion must be >= 0");
  const std::string ns = res.namespaced ? ns_in : "";
  const std::string resource = res.GroupResource();
  auto ch = hub_.NewChannel(ns, std::move(labels), std::move(fields));
  // Exclusive: no write can publish between the snapshot/replay below and registration.
  std::unique_lock state(state_mu_);
  if (options.resource_version == 0) {
    if (options.send_initial_events) {
      auto t = tables_.find(resource);
      if (t != tables_.end()) {
        for (auto it = ns.empty() ? t->second.begin() : t->second.lower_bound({ns, ""});
             it != t->second.end(); ++it) {
          if (!ns.empty() && it->first.first != ns) break;
          if (!WatchHub::Wants(*ch, *it->second)) continue;
          auto rv = ParseInt(MetaString(*it->second, "resourceVersion"));
          WatchHub::Initial(*ch, it->second, rv.value_or(0));
        }
      }
    }
  } else {
    ASB_RETURN_IF_ERROR(hub_.Replay(*ch, resource, options.resource_version));
  }
  return hub_.Register(resource, std::move(ch));
}

const api::ResourceInfo* ObjectStore::ResourceFor(const std::string& resource) {
  for (const auto& r : api::AllResources())
    if (r.GroupResource() == resource) return &r;
  return nullptr;
}

}  // namespace asb::store
