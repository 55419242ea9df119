// The object store interface: Kubernetes object semantics (uid, resourceVersion, generation,
// optimistic concurrency, finalizers, owner-reference garbage collection, watches that resume
// from a revision) over a durable log.
//
// This is also the "API client" the controllers and the node agent use: in embedded mode it is
// SqliteStore in-process (ObjectStore over SqliteLog), in unit tests MemoryStore (ObjectStore
// over MemoryLog); a later implementation can speak HTTPS to a real kube-apiserver with
// the same semantics. Objects are unstructured JSON shaped like Kubernetes objects
// (apiVersion, kind, metadata, spec, status).
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"

namespace asb::store {

using Object = Json;

struct ListOptions {
  // Kubernetes label selector syntax: "a=b,c!=d,e in (x,y),f notin (z),g,!h". Empty = all.
  std::string label_selector;
  // Field selector: metadata.name, metadata.namespace (every kind), plus spec.nodeName and
  // status.phase for pods. "a=b,c!=d". Unsupported fields give kInvalidArgument.
  std::string field_selector;
  int64_t limit = 0;  // 0 = no limit
  std::string continue_token;
};

struct ListResult {
  std::vector<Object> items;     // sorted by namespace, then name
  int64_t resource_version = 0;  // store revision the list was read at
  std::string continue_token;    // non-empty when limit cut the list
};

// A List page as the store's own immutable objects, shared instead of copied (SharedList).
struct SharedListResult {
  std::vector<std::shared_ptr<const Object>> items;  // sorted by namespace, then name
  int64_t resource_version = 0;
  std::string continue_token;
};

enum class EventType { kAdded, kModified, kDeleted, kBookmark };
std::string_view EventTypeName(EventType t);  // "ADDED", "MODIFIED", "DELETED", "BOOKMARK"

struct WatchEvent {
  EventType type = EventType::kAdded;
  Object object;  // for kDeleted: the last state; for kBookmark: only metadata.resourceVersion
  int64_t resource_version = 0;
};

// A WatchEvent whose object is shared with the store (Watcher::NextShared).
struct SharedWatchEvent {
  EventType type = EventType::kAdded;
  std::shared_ptr<const Object> object;  // never null
  int64_t resource_version = 0;
};

struct WatchOptions {
  // 0: first deliver synthetic ADDED events for the current state, then changes after it.
  // N > 0: deliver every change with revision > N; kGone if N is older than the retained log.
  int64_t resource_version = 0;
  std::string label_selector;
  std::string field_selector;
  bool send_initial_events = true;  // only consulted when resource_version == 0
};

// A watch stream. Events arrive in revision order. Not thread-safe (one consumer).
class Watcher {
 public:
  virtual ~Watcher() = default;
  // Waits up to `timeout` for the next event; nullopt on timeout. Errors: kGone when this watcher
  // fell too far behind (its buffer overflowed) — the consumer must re-list; kAborted after Stop().
  [[nodiscard]] virtual Result<std::optional<WatchEvent>> Next(
      std::chrono::milliseconds timeout) = 0;
  // Next without the consumer's copy: the event's object as the store published it, shared and
  // immutable (a consumer that only reads keys, owners or labels off each event, such as the
  // controllers' watches, copied every pod and sandbox a write touched). The default copies.
  [[nodiscard]] virtual Result<std::optional<SharedWatchEvent>> NextShared(
      std::chrono::milliseconds timeout) {
    ASB_ASSIGN_OR_RETURN(std::optional<WatchEvent> ev, Next(timeout));
    if (!ev) return std::optional<SharedWatchEvent>();
    return std::optional<SharedWatchEvent>(SharedWatchEvent{
        ev->type, std::make_shared<const Object>(std::move(ev->object)), ev->resource_version});
  }
  // Ends the stream; a blocked Next returns kAborted. Idempotent, callable from any thread.
  virtual void Stop() = 0;
};

enum class Propagation { kBackground, kForeground, kOrphan };

struct DeleteOptions {
  Propagation propagation = Propagation::kBackground;
  std::optional<std::string> precondition_uid;               // kAborted (409) on mismatch
  std::optional<std::string> precondition_resource_version;  // kAborted (409) on mismatch
};

struct CreateOptions {
  // In-process writers only (the API edge never sets it): keep the object's .status instead of
  // dropping it as a create through the API does, so a controller can create a Sandbox that is
  // born with the status it inherits (the warm claim's Sandbox) in one write instead of two.
  bool keep_status = false;
};

struct UpdateOptions {
  // Status subresource write: only .status is taken from the object, everything else is kept.
  // Without it, kinds with a status subresource keep their stored .status.
  bool status_only = false;
};

// The writes of one Store::Transact. Each call is checked as it is made, exactly as the Store
// method of the same name would check it, against the store as it is plus this transaction's
// earlier writes (which Get also sees), and returns the object as it will be stored (its own
// resourceVersion assigned). Nothing is visible to anyone else, or durable, until Transact
// commits. Valid only inside the Transact call that created it. Propagation::kOrphan is not
// available here (kInvalidArgument).
class Txn {
 public:
  using Shared = std::shared_ptr<const Object>;
  virtual ~Txn() = default;
  [[nodiscard]] virtual Result<Object> Get(const api::ResourceInfo& res, const std::string& ns,
                                           const std::string& name) = 0;
  // The writes, answering with the object as staged (what the single-object call returns),
  // shared and immutable: a caller that only needs to know the write was accepted (a moved pod,
  // a Service) copies nothing.
  [[nodiscard]] virtual Result<Shared> CreateShared(const api::ResourceInfo& res, Object obj,
                                                    const CreateOptions& options = {}) = 0;
  [[nodiscard]] virtual Result<Shared> UpdateShared(const api::ResourceInfo& res, Object obj,
                                                    const UpdateOptions& options = {}) = 0;
  [[nodiscard]] virtual Result<Shared> DeleteShared(const api::ResourceInfo& res,
                                                    const std::string& ns, const std::string& name,
                                                    const DeleteOptions& options = {}) = 0;
  // The same, answering with a copy.
  [[nodiscard]] Result<Object> Create(const api::ResourceInfo& res, Object obj,
                                      const CreateOptions& options = {}) {
    ASB_ASSIGN_OR_RETURN(Shared written, CreateShared(res, std::move(obj), options));
    return *written;
  }
  [[nodiscard]] Result<Object> Update(const api::ResourceInfo& res, Object obj,
                                      const UpdateOptions& options = {}) {
    ASB_ASSIGN_OR_RETURN(Shared written, UpdateShared(res, std::move(obj), options));
    return *written;
  }
  [[nodiscard]] Result<Object> Delete(const api::ResourceInfo& res, const std::string& ns,
                                      const std::string& name, const DeleteOptions& options = {}) {
    ASB_ASSIGN_OR_RETURN(Shared written, DeleteShared(res, ns, name, options));
    return *written;
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // kNotFound when absent.
  [[nodiscard]] virtual Result<Object> Get(const api::ResourceInfo& res, const std::string& ns,
                                           const std::string& name) = 0;
  // ns "" lists all namespaces. kInvalidArgument on a bad selector.
  [[nodiscard]] virtual Result<ListResult> List(const api::ResourceInfo& res, const std::string& ns,
                                                const ListOptions& options) = 0;
  // List's page without copying its objects, for in-process readers on a hot path that only read
  // them (the warm claim's candidates). The default shares List's copies; a store that holds its
  // objects immutable in memory hands out its own.
  [[nodiscard]] virtual Result<SharedListResult> SharedList(const api::ResourceInfo& res,
                                                            const std::string& ns,
                                                            const ListOptions& options) {
    ASB_ASSIGN_OR_RETURN(ListResult listed, List(res, ns, options));
    SharedListResult out;
    out.items.reserve(listed.items.size());
    for (Object& obj : listed.items)
      out.items.push_back(std::make_shared<const Object>(std::move(obj)));
    out.resource_version = listed.resource_version;
    out.continue_token = std::move(listed.continue_token);
    return out;
  }
  // Sets metadata.uid, creationTimestamp, resourceVersion, generation=1, fills name from
  // generateName. apiVersion/kind are set from `res`. Errors: kAlreadyExists, kInvalidArgument
  // (no name), kNotFound (namespace missing), kFailedPrecondition (namespace terminating).
  [[nodiscard]] virtual Result<Object> Create(const api::ResourceInfo& res, Object obj,
                                              const CreateOptions& options = {}) = 0;
  // Replaces the object. When metadata.resourceVersion is set it must match (kAborted otherwise);
  // uid/creationTimestamp are kept; generation is bumped when anything outside metadata/status
  // changed. An object with deletionTimestamp whose last finalizer is removed is deleted.
  // Errors: kNotFound, kAborted, kInvalidArgument.
  [[nodiscard]] virtual Result<Object> Update(const api::ResourceInfo& res, Object obj,
                                              const UpdateOptions& options = {}) = 0;
  // With finalizers present (or kForeground, which adds "foregroundDeletion"): sets
  // deletionTimestamp and returns the object, which stays until the finalizers are removed.
  // Otherwise removes it and returns its last state. Dependents (ownerReferences) are deleted by
  // the store's garbage collector (kBackground/kForeground) or orphaned (kOrphan).
  [[nodiscard]] virtual Result<Object> Delete(const api::ResourceInfo& res, const std::string& ns,
                                              const std::string& name,
                                              const DeleteOptions& options = {}) = 0;
  [[nodiscard]] virtual Result<std::unique_ptr<Watcher>> Watch(const api::ResourceInfo& res,
                                                               const std::string& ns,
                                                               const WatchOptions& options) = 0;
  // The latest committed revision.
  virtual int64_t CurrentRevision() = 0;

  // A multi-object write (in-process writers only; the API edge has none): `fn` makes its writes
  // through the Txn, then they commit together, all or nothing. Each object still gets its own
  // revision (consecutive, in the order the writes were made) and its own watch event, published
  // in that order; readers see none or all of them. If any write fails (a resourceVersion or
  // uid precondition -> kAborted, kNotFound, ...) or `fn` returns an error, nothing is written
  // and Transact returns that error (the first write error, even if `fn` went on). `fn` runs
  // under the store's writer lock: keep it short and call only the Txn, never this Store (that
  // is refused with kFailedPrecondition). Stores without multi-object writes return
  // kUnimplemented.
  [[nodiscard]] virtual Status Transact(const std::function<Status(Txn&)>& fn) {
    (void)fn;
    return MakeError(Code::kUnimplemented, "this store has no multi-object writes");
  }
};

}  // namespace asb::store
