// ObjectStore: the Kubernetes object semantics of Store over any ObjectLog.
//
// It owns what makes an object a Kubernetes object: uid, creationTimestamp, generateName,
// generation, resourceVersion compare-and-set, the status subresource, finalizers and
// deletionTimestamp, namespaces (must exist, terminate with their contents), ownerReference
// garbage collection (garbage_collector.cc) and watches (WatchHub). Kind-specific rules come
// from api/ (names, labels, initial status); the log underneath only persists JSON by key.
//
// Every object is held in memory (loaded from the log at Open), so reads never touch the log.
// Write path (one writer mutex): check against memory -> ObjectLog::Commit -> update memory ->
// publish to watchers. Revisions are therefore assigned, committed and published in one order,
// and a write is acknowledged only after the log made it durable. A write is staged as a batch
// (one write, or the several of a Transact, transaction.cc) and the batch is what commits.
//
// After a reopen the watch window starts empty at the current revision.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "store/label_index.h"
#include "store/object_log.h"
#include "store/store.h"
#include "store/watch_hub.h"

namespace asb::store {

struct ObjectStoreOptions {
  // Events retained in memory so watches can resume from an older revision. Each retained event
  // shares its object with the index, so the cost is about one object per event.
  size_t watch_log_capacity = 100000;
  // Live events a watcher may have queued before it is dropped with kGone. Initial (synthetic
  // ADDED / replayed) events do not count against it.
  size_t watcher_buffer = 10000;
  Clock* clock = nullptr;  // nullptr = RealClock
  // Run the garbage collector (ownerReference cascades and namespace termination).
  bool gc = true;
};

class ObjectStore : public Store {
 public:
  // Loads every object from `log`, creates the `default` and `kube-system` namespaces if
  // missing and starts the garbage collector. Errors: whatever the log's Load returns.
  [[nodiscard]] static Result<std::unique_ptr<ObjectStore>> Open(std::unique_ptr<ObjectLog> log,
                                                                 ObjectStoreOptions options = {});
  // Stops the garbage collector, ends every watcher (Next -> kUnavailable), closes the log.
  ~ObjectStore() override;

  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  Result<Object> Get(const api::ResourceInfo& res, const std::string& ns,
                     const std::string& name) override;
  Result<ListResult> List(const api::ResourceInfo& res, const std::string& ns,
                          const ListOptions& options) override;
  // The stored objects themselves (immutable, shared with the index): no copies.
  Result<SharedListResult> SharedList(const api::ResourceInfo& res, const std::string& ns,
                                      const ListOptions& options) override;
  Result<Object> Create(const api::ResourceInfo& res, Object obj,
                        const CreateOptions& options = {}) override;
  Result<Object> Update(const api::ResourceInfo& res, Object obj,
                        const UpdateOptions& options = {}) override;
  Result<Object> Delete(const api::ResourceInfo& res, const std::string& ns,
                        const std::string& name, const DeleteOptions& options = {}) override;
  Result<std::unique_ptr<Watcher>> Watch(const api::ResourceInfo& res, const std::string& ns,
                                         const WatchOptions& options) override;
  int64_t CurrentRevision() override { return revision_.load(std::memory_order_acquire); }
  Status Transact(const std::function<Status(Txn&)>& fn) override;  // transaction.cc

  // True when the garbage collector has no queued or running work. For tests and shutdown.
  bool GcIdle();

 protected:
  ObjectStore(std::unique_ptr<ObjectLog> log, ObjectStoreOptions options);
  // Load + default namespaces + GC start; what Open does after constructing.
  [[nodiscard]] Status Init();

 private:
  using Key = ObjectKey;
  using ObjPtr = std::shared_ptr<const Json>;
  struct GcWork {
    enum class Kind { kOwner, kNamespace } kind;
    std::string id;  // owner uid or namespace name
    auto operator<=>(const GcWork&) const = default;
  };

  // One staged write: `published` (nullptr-free; for a removal, the last state) at `revision`.
  struct Pending {
    Key key;
    ObjPtr published;
    ObjPtr prev;
    bool remove = false;
    int64_t revision = 0;
  };
  // The writes that commit together, and what they make of each key they touch (nullptr =
  // removed) so later checks in the same batch see them.
  struct Batch {
    std::vector<Pending> writes;
    std::map<Key, ObjPtr> overlay;
  };
  class BatchTxn;  // transaction.cc

  [[nodiscard]] Status Load();
  // kFailedPrecondition when called from inside this thread's Transact (it would deadlock).
  [[nodiscard]] Status CheckNotInTxn() const;

  // --- under writer_mu_ ---
  [[nodiscard]] Result<ObjPtr> CreateLocked(const api::ResourceInfo& res, Object obj,
                                            const CreateOptions& options = {});
  [[nodiscard]] Result<ObjPtr> UpdateLocked(const api::ResourceInfo& res, Object obj,
                                            const UpdateOptions& options);
  [[nodiscard]] Result<ObjPtr> DeleteLocked(const api::ResourceInfo& res, const std::string& ns,
                                            const std::string& name, const DeleteOptions& options);
  // Stages `obj` (nullptr = delete `key`) at the next free revision, in the open Transact's
  // batch or else in a batch of its own that commits right away. Sets metadata.resourceVersion
  // on obj. Returns the object as published.
  [[nodiscard]] Result<ObjPtr> WriteLocked(const Key& key, std::shared_ptr<Json> obj, ObjPtr prev);
  // Makes `batch` durable (one ObjectLog::Commit), then updates the index and publishes its
  // events in order. On error nothing changed.
  [[nodiscard]] Status CommitLocked(const Batch& batch);
  ObjPtr FindLocked(const Key& key) const;  // also used under state_mu_ (shared)
  // What a write sees: the open batch's staged state of `key`, else FindLocked.
  ObjPtr FindForWrite(const Key& key) const;

  // --- under state_mu_ (exclusive) ---
  void IndexPut(const Key& key, ObjPtr obj, const ObjPtr& prev);
  void IndexErase(const Key& key, const ObjPtr& prev);

  // --- garbage collector (garbage_collector.cc) ---
  void StartGc();
  void StopGc();
  void GcLoop();
  void EnqueueGc(GcWork work);
  // Queues work implied by a write: called under writer_mu_.
  void NoteWriteForGc(const Key& key, const ObjPtr& obj, const ObjPtr& prev);
  void ScanForGc();
  void ProcessOwner(const std::string& uid);
  void ProcessNamespace(const std::string& ns);
  static const api::ResourceInfo* ResourceFor(const std::string& resource);

  const ObjectStoreOptions options_;
  Clock* clock_;

  std::mutex writer_mu_;  // serializes writes and every call into log_
  std::unique_ptr<ObjectLog> log_;
  Batch* batch_ = nullptr;                     // the open Transact's batch (under writer_mu_)
  std::atomic<std::thread::id> txn_thread_{};  // the thread running a Transact's fn

  // In-memory state. Written only with writer_mu_ AND state_mu_ (exclusive) held, so writers may
  // read it with just writer_mu_; readers take state_mu_ shared.
  mutable std::shared_mutex state_mu_;
  std::atomic<int64_t> revision_{0};
  std::unordered_map<std::string, std::map<std::pair<std::string, std::string>, ObjPtr>> tables_;
  std::unordered_map<std::string, Key> by_uid_;
  std::unordered_map<std::string, std::set<Key>> dependents_;  // owner uid -> dependents
  LabelIndex labels_;  // what List's label selectors look up instead of scanning a table
  WatchHub hub_;

  std::mutex gc_mu_;
  std::condition_variable gc_cv_;
  std::deque<GcWork> gc_queue_;
  std::set<GcWork> gc_queued_;
  bool gc_busy_ = false;
  bool gc_stop_ = false;
  std::thread gc_thread_;
};

}  // namespace asb::store
