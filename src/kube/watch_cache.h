// A list+watch cache of one kind over any store::Store (client-go's informer, reduced): a thread
// lists the objects, then watches from the list's revision, and re-lists whenever the watch ends
// (410 Gone, a dropped connection). Readers see the last state the cache observed; it lags the
// server by the watch's latency, so callers that must not act on a stale view (the router on a
// miss) read the server themselves.
//
// Used by the split topology's router (Sandboxes -> pod IPs) and scheduler (pods, nodes).
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
#include <string>
#include <thread>
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

  std::optional<Json> Get(const std::string& ns, const std::string& name) const;
  std::vector<Json> Snapshot() const;

 private:
  void Loop();
  void WaitForStop(std::chrono::milliseconds d);
  static std::string Key(const Json& obj);

  store::Store& store_;
  const api::ResourceInfo& res_;
  const std::string ns_;
  const WatchCacheOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Json> objects_;      // "ns/name" -> object; guarded by mu_
  bool synced_ = false;                      // guarded by mu_
  std::unique_ptr<store::Watcher> watcher_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace asb::kube
