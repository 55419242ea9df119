// SqliteStore: the durable, in-process implementation of Store.
//
// Layout: one SQLite database (state_dir/store.db, WAL mode) with an `objects` table keyed by
// (group/resource, namespace, name) holding each object's JSON and revision, and a `meta` table
// holding the store-wide revision counter (so revisions are never reused, even after deletes and
// restarts). Every object is also held in memory (loaded at Open), so reads never touch disk.
//
// Write path (one writer mutex): validate against memory -> commit to SQLite -> update memory ->
// append to the watch log and fan out to watchers. Revisions are therefore assigned, committed
// and published in one order. A write acknowledged to the caller survives kill -9.
//
// Watches: the last `watch_log_capacity` events are kept in memory; a watch can resume from any
// revision still in that window (older -> kGone "too old resource version"). After a restart the
// window starts empty at the current revision. Each watcher has a bounded buffer; a slow watcher
// gets kGone instead of blocking writers.
//
// A background garbage collector (garbage_collector.cc) implements ownerReference cascading
// deletion (background/foreground) and namespace termination, driven by the store's own writes.
//
// One process owns a state dir at a time (flock on state_dir/store.lock).
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
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace asb::store {

struct SqliteStoreOptions {
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

namespace internal {
class WatchChannel;
}

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the store in state_dir, loads every object into memory, creates
  // the `default` and `kube-system` namespaces if missing and starts the garbage collector.
  // Errors: kFailedPrecondition (another process holds the state dir), kInternal (SQLite).
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> Open(const std::string& state_dir,
                                                                 SqliteStoreOptions options = {});
  // Stops the garbage collector, ends every watcher (Next -> kUnavailable) and closes the db.
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<Object> Get(const api::ResourceInfo& res, const std::string& ns,
                     const std::string& name) override;
  Result<ListResult> List(const api::ResourceInfo& res, const std::string& ns,
                          const ListOptions& options) override;
  Result<Object> Create(const api::ResourceInfo& res, Object obj) override;
  Result<Object> Update(const api::ResourceInfo& res, Object obj,
                        const UpdateOptions& options = {}) override;
  Result<Object> Delete(const api::ResourceInfo& res, const std::string& ns,
                        const std::string& name, const DeleteOptions& options = {}) override;
  Result<std::unique_ptr<Watcher>> Watch(const api::ResourceInfo& res, const std::string& ns,
                                         const WatchOptions& options) override;
  int64_t CurrentRevision() override { return revision_.load(std::memory_order_acquire); }

  // True when the garbage collector has no queued or running work. For tests and shutdown.
  bool GcIdle();

 private:
  struct Key {
    std::string resource;  // ResourceInfo::GroupResource()
    std::string ns;
    std::string name;
    auto operator<=>(const Key&) const = default;
  };
  using ObjPtr = std::shared_ptr<const Json>;
  struct LogEntry {
    int64_t revision;
    std::string resource;
    EventType type;
    ObjPtr object;  // new state (for kDeleted: last state, resourceVersion = revision)
    ObjPtr prev;    // previous state for kModified/kDeleted (label-selector transitions)
  };
  struct GcWork {
    enum class Kind { kOwner, kNamespace } kind;
    std::string id;  // owner uid or namespace name
    auto operator<=>(const GcWork&) const = default;
  };

  SqliteStore(std::string state_dir, SqliteStoreOptions options);
  [[nodiscard]] Status Init();
  [[nodiscard]] Status Load();
  [[nodiscard]] Status Prepare(const char* sql, sqlite3_stmt** stmt);
  [[nodiscard]] Status Exec(const char* sql);

  // --- under writer_mu_ ---
  [[nodiscard]] Result<Object> CreateLocked(const api::ResourceInfo& res, Object obj);
  [[nodiscard]] Result<Object> UpdateLocked(const api::ResourceInfo& res, Object obj,
                                            const UpdateOptions& options);
  [[nodiscard]] Result<Object> DeleteLocked(const api::ResourceInfo& res, const std::string& ns,
                                            const std::string& name, const DeleteOptions& options);
  // Persists `obj` (nullptr = delete `key`) at revision current+1, updates the index, publishes
  // the event. Sets metadata.resourceVersion on obj. Returns the published object.
  [[nodiscard]] Result<ObjPtr> WriteLocked(const api::ResourceInfo& res, const Key& key,
                                           std::shared_ptr<Json> obj, ObjPtr prev);
  ObjPtr FindLocked(const Key& key) const;  // also used under state_mu_ (shared)

  // --- under state_mu_ (exclusive) ---
  void IndexPut(const Key& key, ObjPtr obj, const ObjPtr& prev);
  void IndexErase(const Key& key, const ObjPtr& prev);
  void Publish(LogEntry entry);

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
  const api::ResourceInfo* ResourceFor(const std::string& resource);

  const std::string state_dir_;
  const SqliteStoreOptions options_;
  Clock* clock_;
  int lock_fd_ = -1;

  std::mutex writer_mu_;  // serializes writes and all SQLite access
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_begin_ = nullptr;
  sqlite3_stmt* stmt_commit_ = nullptr;
  sqlite3_stmt* stmt_rollback_ = nullptr;
  sqlite3_stmt* stmt_put_ = nullptr;
  sqlite3_stmt* stmt_delete_ = nullptr;
  sqlite3_stmt* stmt_set_rev_ = nullptr;

  // In-memory state. Written only with writer_mu_ AND state_mu_ (exclusive) held, so writers may
  // read it with just writer_mu_; readers take state_mu_ shared.
  mutable std::shared_mutex state_mu_;
  std::atomic<int64_t> revision_{0};
  std::unordered_map<std::string, std::map<std::pair<std::string, std::string>, ObjPtr>> tables_;
  std::unordered_map<std::string, Key> by_uid_;
  std::unordered_map<std::string, std::set<Key>> dependents_;  // owner uid -> dependents
  std::deque<LogEntry> log_;
  int64_t log_floor_ = 0;  // every event with revision > log_floor_ is in log_
  std::unordered_map<std::string, std::vector<std::shared_ptr<internal::WatchChannel>>> watchers_;

  std::mutex gc_mu_;
  std::condition_variable gc_cv_;
  std::deque<GcWork> gc_queue_;
  std::set<GcWork> gc_queued_;
  bool gc_busy_ = false;
  bool gc_stop_ = false;
  std::thread gc_thread_;
};

}  // namespace asb::store
