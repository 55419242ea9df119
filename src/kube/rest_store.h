// store::Store over the Kubernetes REST API: what the controllers need from a kube-apiserver
// (or from asbd's API server in its apiserver role), so the same ControllerManager that runs
// in-process over SqliteStore runs as `asbd controller --kubeconfig FILE`.
//
// Mapping (kube-apiserver semantics; errors from the server's Status, client::ErrorFromResponse):
//   Get      GET    .../NAME                                   404 -> kNotFound
//   List     GET    ...?labelSelector&fieldSelector&limit&continue; limit 0 reads every page
//                   (500 a page) and returns them as one list at the first page's revision;
//                   an expired continue token -> kGone
//   Create   POST   ... ; CreateOptions::keep_status (which no API create honours) is a second
//                   write to /status right after, compare-and-set on the created revision
//   Update   PUT    .../NAME or .../NAME/status (status_only); metadata.resourceVersion makes it
//                   conditional: 409 -> kAborted
//   Delete   DELETE .../NAME with DeleteOptions {propagationPolicy, preconditions}
//   Watch    List (paginated) for the initial ADDED events when asked, then
//            GET ...?watch=1&resourceVersion=N&allowWatchBookmarks=true, one JSON event a line;
//            the stream is re-opened from the last event or bookmark when the server ends it;
//            410 / an ERROR event with code 410 -> kGone, so the manager re-lists.
//   Transact kUnimplemented: an API server has no multi-object write. The controllers fall back
//            to sequences of single compare-and-set writes (claim_reconciler.cc).
//
// Cached reads (RestStoreOptions::cached, what controller-runtime's cached client does): each
// listed kind gets a list+watch cache (watch_cache.h) and its Get and List are answered from it,
// and a Watch of the whole kind from revision 0 is served from the cache too (so an event handler
// that reads the cache sees at least the state of its event, as an informer's handlers do).
// Writes still go to the server, compare-and-set as above (409 -> kAborted, the reconcile's
// retry). The caveats:
//   - not synced yet: a read waits up to sync_wait for the first list, then reads the server; the
//     cache itself never answers before it has listed (CachesSynced: the controller's readyz);
//   - read-your-writes: a read of a kind this store wrote waits until the cache has seen the
//     newest revision a write of that kind returned (up to read_your_writes_wait, else the
//     server answers), so a reconcile never misses what the previous one wrote;
//   - a write that failed with 409 / 404 / AlreadyExists marks that object: the next Get of it
//     reads the server (the retry's re-read must not be the stale copy that conflicted);
//   - read_live: Lists the caller says must not be stale (asbd controller: adoption's lookup of a
//     claim's sandbox by claim uid, which a stale "none" would answer with a second member);
//   - 410 Gone or a dropped watch -> the cache re-lists; every relist_period it re-lists anyway.
// Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kube/transport.h"
#include "store/store.h"

namespace asb::kube {

struct RestStoreOptions {
  int64_t list_page_size = 500;  // client-go's pager default
  // A watch connection with nothing read for this long (not even a bookmark) is re-opened.
  std::chrono::milliseconds watch_idle{std::chrono::seconds(120)};
  // Events a watcher may hold unread before it gives up with kGone (the consumer re-lists).
  size_t watch_buffer = 100000;
  std::string field_manager = "asbd-controller";

  // Kinds whose reads are served from list+watch caches (empty: every read goes to the server).
  std::vector<const api::ResourceInfo*> cached;
  // Lists of a cached kind that must read the server anyway.
  std::function<bool(const api::ResourceInfo&, const store::ListOptions&)> read_live;
  std::chrono::milliseconds sync_wait{std::chrono::seconds(10)};
  std::chrono::milliseconds read_your_writes_wait{std::chrono::seconds(2)};
  std::chrono::milliseconds relist_period{0};
};

// Where reads of cached kinds were answered (totals since the store opened).
struct RestReadStats {
  uint64_t cache = 0;
  uint64_t live = 0;        // read_live, a marked object, or a kind not cached
  uint64_t fallback = 0;    // cached kind, but not synced or behind our write in time
  uint64_t waited_ryw = 0;  // reads that waited for the cache to see our own write
};

class RestStore : public store::Store {
 public:
  RestStore(std::unique_ptr<Transport> transport, RestStoreOptions options = {});
  ~RestStore() override;

  // "/apis/G/V/namespaces/NS/PLURAL/NAME/SUB" (parts omitted when empty).
  static std::string Path(const api::ResourceInfo& res, const std::string& ns,
                          const std::string& name = "", const std::string& sub = "");

  Result<store::Object> Get(const api::ResourceInfo& res, const std::string& ns,
                            const std::string& name) override;
  Result<store::ListResult> List(const api::ResourceInfo& res, const std::string& ns,
                                 const store::ListOptions& options) override;
  Result<store::Object> Create(const api::ResourceInfo& res, store::Object obj,
                               const store::CreateOptions& options = {}) override;
  Result<store::Object> Update(const api::ResourceInfo& res, store::Object obj,
                               const store::UpdateOptions& options = {}) override;
  Result<store::Object> Delete(const api::ResourceInfo& res, const std::string& ns,
                               const std::string& name,
                               const store::DeleteOptions& options = {}) override;
  Result<std::unique_ptr<store::Watcher>> Watch(const api::ResourceInfo& res, const std::string& ns,
                                                const store::WatchOptions& options) override;
  // The revision of a one-item namespace list (0 when the server can't be reached).
  int64_t CurrentRevision() override;

  Transport& transport() { return *transport_; }

  // Every cache has listed (true when nothing is cached).
  bool CachesSynced() const;
  bool WaitCachesSynced(std::chrono::milliseconds timeout);
  RestReadStats read_stats() const;

 private:
  class LiveView;
  struct CachedKind;

  Result<store::Object> LiveGet(const api::ResourceInfo& res, const std::string& ns,
                                const std::string& name);
  Result<store::ListResult> LiveList(const api::ResourceInfo& res, const std::string& ns,
                                     const store::ListOptions& options);
  Result<std::unique_ptr<store::Watcher>> LiveWatch(const api::ResourceInfo& res,
                                                    const std::string& ns,
                                                    const store::WatchOptions& options);
  CachedKind* CacheFor(const api::ResourceInfo& res) const;
  // The cache may answer: synced, and it has seen this store's last write of the kind.
  bool CacheReady(CachedKind& kind);
  // After a write of a cached kind: its revision (read-your-writes) or, for a conflict, the
  // object's mark.
  void NoteWrite(const api::ResourceInfo& res, const std::string& ns, const std::string& name,
                 const Result<store::Object>& result);
  bool TakeMark(const api::ResourceInfo& res, const std::string& ns, const std::string& name);

  // A request whose 2xx body is JSON; other statuses become the Status's error.
  [[nodiscard]] Result<Json> Call(const std::string& method, const std::string& target,
                                  const std::string& body = "");
  [[nodiscard]] Result<store::ListResult> ListPage(const api::ResourceInfo& res,
                                                   const std::string& ns,
                                                   const store::ListOptions& options);

  std::unique_ptr<Transport> transport_;
  const RestStoreOptions options_;
  std::unique_ptr<LiveView> live_;
  std::map<std::string, std::unique_ptr<CachedKind>> caches_;  // fixed after construction
  mutable std::mutex marks_mu_;
  std::set<std::string> marks_;  // guarded by marks_mu_
  std::atomic<uint64_t> reads_cache_{0}, reads_live_{0}, reads_fallback_{0}, reads_waited_{0};
};

// Builds a Transport from `config` and wraps it. kInvalidArgument for an unusable config.
[[nodiscard]] Result<std::unique_ptr<RestStore>> OpenRestStore(const RestConfig& config,
                                                               TransportOptions transport = {},
                                                               RestStoreOptions options = {});

}  // namespace asb::kube
