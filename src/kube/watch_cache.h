// A list+watch cache of one kind over any store::Store (client-go's informer, reduced): a thread
// lists the objects, then watches from the list's revision, and re-lists whenever the watch ends
// (410 Gone, a dropped connection) or every relist_period. A re-list replaces the view and tells
// subscribers the difference (ADDED / MODIFIED / DELETED), as an informer's Replace does.
// Readers see the last state the cache observed; it lags the server by the watch's latency, so
// callers that must not act on a stale view (the router on a miss) read the server themselves,
// or wait for a revision they know of (WaitForRevision: read-your-writes).
//
// Used by the split topology's router (Sandboxes -> pod IPs), scheduler (pods, nodes) and by
// RestStore's cached reads for `asbd controller` (rest_store.h).
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/resource.h"
#include "store/store.h"

namespace asb::kube {

struct WatchCacheOptions {
  std::string label_selector;
  std::string field_selector;
  // Called on the cache's thread after each change is applied (nullptr `obj` after a re-list
  // replaced the whole view). Must not block for long.
  std::function<void(const Json* obj)> on_change;
  // Re-list from the server this often even while the watch is healthy (0: only when it ends),
  // so a view that drifted (a missed event) heals; subscribers see only the difference.
  std::chrono::milliseconds relist_period{0};
  // Events a subscriber may hold unread before it is ended with kGone (it re-subscribes).
  size_t subscriber_buffer = 100000;
};

class WatchCache {
 public:
  // `store` must outlive the cache. `ns` empty: every namespace.
  WatchCache(store::Store& store, const api::ResourceInfo& res, std::string ns,
             WatchCacheOptions options = {});
  ~WatchCache();
  WatchCache(const WatchCache&) = delete;
  WatchCache& operator=(const WatchCache&) = delete;

  void Start();
  void Stop();  // idempotent
  // Waits until the first list was applied; false on timeout.
  bool WaitSynced(std::chrono::milliseconds timeout);
  bool synced() const;

  std::optional<Json> Get(const std::string& ns, const std::string& name) const;
  std::vector<Json> Snapshot() const;
  // Store::List semantics over the view (ns "" = every namespace; label and field selectors;
  // limit with a continue token that only this cache understands), at the cache's revision.
  // kInvalidArgument for a bad selector or a foreign continue token.
  Result<store::ListResult> List(const std::string& ns, const store::ListOptions& options) const;

  // The newest revision the view reflects: the list's, then each event's and bookmark's.
  int64_t revision() const;
  // Waits until revision() >= rv (the cache has seen a write that returned rv); false on timeout
  // or stop.
  bool WaitForRevision(int64_t rv, std::chrono::milliseconds timeout);

  // A watch served from the view: ADDED for every object now in it, then each change as the cache
  // applies it (so a handler that reads the cache sees at least the state of the event it
  // handles). Ended with kGone when it falls subscriber_buffer events behind; kAborted on Stop.
  std::unique_ptr<store::Watcher> Subscribe();

 private:
  class Subscriber;
  using Key = std::pair<std::string, std::string>;  // namespace, name: Store::List's order

  void Loop();
  void WaitForStop(std::chrono::milliseconds d);
  static Key KeyOf(const Json& obj);
  // Under mu_: hands `ev` to every subscriber, dropping the ones that ended.
  void PublishLocked(store::EventType type, const std::shared_ptr<const Json>& obj, int64_t rv);
  // Under mu_: replaces the view with a fresh list and publishes the difference.
  void ReplaceLocked(std::vector<Json> items, int64_t rv);
  // Under mu_: puts `obj` at `key` (nullptr: removes it), keeping the label index in step.
  void SetLocked(const Key& key, std::shared_ptr<const Json> obj);
  void IndexLocked(const Key& key, const Json& obj, bool add);

  store::Store& store_;
  const api::ResourceInfo& res_;
  const std::string ns_;
  const WatchCacheOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::shared_ptr<const Json>> objects_;  // guarded by mu_
  // "key=value" -> the objects carrying that label, so a List selecting by a label scans those,
  // not the kind (a pool's members among 10,000 sandboxes); guarded by mu_.
  std::map<std::string, std::set<Key>> label_index_;
  int64_t revision_ = 0;                                  // guarded by mu_
  bool synced_ = false;                                   // guarded by mu_
  std::unique_ptr<store::Watcher> watcher_;               // guarded by mu_
  std::vector<std::shared_ptr<Subscriber>> subscribers_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace asb::kube
