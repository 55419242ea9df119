// RestStore's reads: from the list+watch caches of RestStoreOptions::cached when they may answer
// (rest_store.h, "Cached reads"), from the server otherwise.
#include "base/log.h"
#include "base/strings.h"
#include "kube/rest_store.h"
#include "kube/watch_cache.h"

namespace asb::kube {

namespace {

std::string KindKey(const api::ResourceInfo& res) { return res.ApiVersion() + "/" + res.plural; }

std::string ObjectKey(const api::ResourceInfo& res, const std::string& ns,
                      const std::string& name) {
  return KindKey(res) + "/" + ns + "/" + name;
}

}  // namespace

// The server's side of this store, for the caches' own lists and watches (which must never be
// answered by the caches they fill). Writes are not the caches' business.
class RestStore::LiveView : public store::Store {
 public:
  explicit LiveView(RestStore& rest) : rest_(rest) {}
  Result<store::Object> Get(const api::ResourceInfo& res, const std::string& ns,
                            const std::string& name) override {
    return rest_.LiveGet(res, ns, name);
  }
  Result<store::ListResult> List(const api::ResourceInfo& res, const std::string& ns,
                                 const store::ListOptions& options) override {
    return rest_.LiveList(res, ns, options);
  }
  Result<std::unique_ptr<store::Watcher>> Watch(const api::ResourceInfo& res, const std::string& ns,
                                                const store::WatchOptions& options) override {
    return rest_.LiveWatch(res, ns, options);
  }
  Result<store::Object> Create(const api::ResourceInfo&, store::Object,
                               const store::CreateOptions&) override {
    return MakeError(Code::kUnimplemented, "the cache's view of the server is read-only");
  }
  Result<store::Object> Update(const api::ResourceInfo&, store::Object,
                               const store::UpdateOptions&) override {
    return MakeError(Code::kUnimplemented, "the cache's view of the server is read-only");
  }
  Result<store::Object> Delete(const api::ResourceInfo&, const std::string&, const std::string&,
                               const store::DeleteOptions&) override {
    return MakeError(Code::kUnimplemented, "the cache's view of the server is read-only");
  }
  int64_t CurrentRevision() override { return rest_.CurrentRevision(); }

 private:
  RestStore& rest_;
};

struct RestStore::CachedKind {
  const api::ResourceInfo* res;
  std::unique_ptr<WatchCache> cache;
  std::atomic<int64_t> written{0};  // the newest revision a write of this kind returned
};

RestStore::RestStore(std::unique_ptr<Transport> transport, RestStoreOptions options)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      live_(std::make_unique<LiveView>(*this)) {
  for (const api::ResourceInfo* res : options_.cached) {
    auto kind = std::make_unique<CachedKind>();
    kind->res = res;
    WatchCacheOptions wo;
    wo.relist_period = options_.relist_period;
    wo.subscriber_buffer = options_.watch_buffer;
    kind->cache = std::make_unique<WatchCache>(*live_, *res, "", std::move(wo));
    caches_.emplace(KindKey(*res), std::move(kind));
  }
  for (auto& [key, kind] : caches_) kind->cache->Start();
}

RestStore::~RestStore() {
  for (auto& [key, kind] : caches_) kind->cache->Stop();
}

RestStore::CachedKind* RestStore::CacheFor(const api::ResourceInfo& res) const {
  if (caches_.empty()) return nullptr;
  auto it = caches_.find(KindKey(res));
  return it == caches_.end() ? nullptr : it->second.get();
}

bool RestStore::CachesSynced() const {
  for (const auto& [key, kind] : caches_)
    if (!kind->cache->synced()) return false;
  return true;
}

bool RestStore::WaitCachesSynced(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& [key, kind] : caches_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!kind->cache->WaitSynced(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

RestReadStats RestStore::read_stats() const {
  return {reads_cache_.load(), reads_live_.load(), reads_fallback_.load(), reads_waited_.load()};
}

bool RestStore::CacheReady(CachedKind& kind) {
  if (!kind.cache->WaitSynced(options_.sync_wait)) return false;
  const int64_t written = kind.written.load();
  if (kind.cache->revision() >= written) return true;
  ++reads_waited_;
  return kind.cache->WaitForRevision(written, options_.read_your_writes_wait);
}

void RestStore::NoteWrite(const api::ResourceInfo& res, const std::string& ns,
                          const std::string& name, const Result<store::Object>& result) {
  CachedKind* kind = CacheFor(res);
  if (!kind) return;
  if (!result) {
    Code c = result.error().code;
    if (c == Code::kAborted || c == Code::kNotFound || c == Code::kAlreadyExists) {
      std::lock_guard l(marks_mu_);
      marks_.insert(ObjectKey(res, ns, name));
    }
    return;
  }
  // A Status (some kinds' answer to a finished delete) names no revision.
  auto rv = ParseInt(GetString(*result, "metadata.resourceVersion"));
  if (!rv) return;
  int64_t seen = kind->written.load();
  while (*rv > seen && !kind->written.compare_exchange_weak(seen, *rv)) {
  }
}

bool RestStore::TakeMark(const api::ResourceInfo& res, const std::string& ns,
                         const std::string& name) {
  std::lock_guard l(marks_mu_);
  return marks_.erase(ObjectKey(res, ns, name)) > 0;
}

Result<store::Object> RestStore::Get(const api::ResourceInfo& res, const std::string& ns,
                                     const std::string& name) {
  CachedKind* kind = CacheFor(res);
  if (!kind || TakeMark(res, ns, name)) {
    ++reads_live_;
    return LiveGet(res, ns, name);
  }
  if (!CacheReady(*kind)) {
    ++reads_fallback_;
    return LiveGet(res, ns, name);
  }
  ++reads_cache_;
  if (std::optional<Json> obj = kind->cache->Get(ns, name)) return std::move(*obj);
  return MakeError(Code::kNotFound, res.GroupResource() + " \"" + name + "\" not found");
}

Result<store::ListResult> RestStore::List(const api::ResourceInfo& res, const std::string& ns,
                                          const store::ListOptions& options) {
  CachedKind* kind = CacheFor(res);
  // A continue token the server issued goes back to the server.
  bool server_token =
      !options.continue_token.empty() && !StartsWith(options.continue_token, "watchcache:");
  if (!kind || server_token || (options_.read_live && options_.read_live(res, options))) {
    ++reads_live_;
    return LiveList(res, ns, options);
  }
  if (!CacheReady(*kind)) {
    ++reads_fallback_;
    return LiveList(res, ns, options);
  }
  ++reads_cache_;
  return kind->cache->List(ns, options);
}

Result<std::unique_ptr<store::Watcher>> RestStore::Watch(const api::ResourceInfo& res,
                                                         const std::string& ns,
                                                         const store::WatchOptions& options) {
  CachedKind* kind = CacheFor(res);
  // The whole kind from its current state (a controller's watch): the cache's own events.
  if (kind && ns.empty() && options.resource_version == 0 && options.send_initial_events &&
      options.label_selector.empty() && options.field_selector.empty() &&
      kind->cache->WaitSynced(options_.sync_wait))
    return kind->cache->Subscribe();
  return LiveWatch(res, ns, options);
}

}  // namespace asb::kube
