#include "kube/watch_cache.h"

#include "base/json_util.h"
#include "base/log.h"

namespace asb::kube {

using std::chrono::milliseconds;

WatchCache::WatchCache(store::Store& store, const api::ResourceInfo& res, std::string ns,
                       WatchCacheOptions options)
    : store_(store), res_(res), ns_(std::move(ns)), options_(std::move(options)) {}

WatchCache::~WatchCache() { Stop(); }

void WatchCache::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void WatchCache::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard l(mu_);
    if (watcher_) watcher_->Stop();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool WatchCache::WaitSynced(milliseconds timeout) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, timeout, [this] { return synced_ || stopping_.load(); }) && synced_;
}

std::optional<Json> WatchCache::Get(const std::string& ns, const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = objects_.find(ns + "/" + name);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<Json> WatchCache::Snapshot() const {
  std::lock_guard l(mu_);
  std::vector<Json> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(obj);
  return out;
}

std::string WatchCache::Key(const Json& obj) {
  return GetString(obj, "metadata.namespace") + "/" + GetString(obj, "metadata.name");
}

void WatchCache::WaitForStop(milliseconds d) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, d, [this] { return stopping_.load(); });
}

void WatchCache::Loop() {
  milliseconds retry{100};
  while (!stopping_) {
    store::ListOptions lo;
    lo.label_selector = options_.label_selector;
    lo.field_selector = options_.field_selector;
    auto list = store_.List(res_, ns_, lo);
    if (!list) {
      ASB_LOG(WARN, "watch cache: list failed", "resource", res_.plural, "error",
              list.error().message);
      WaitForStop(retry);
      retry = std::min(retry * 2, milliseconds(5000));
      continue;
    }
    store::WatchOptions wo;
    wo.resource_version = list->resource_version;
    wo.label_selector = options_.label_selector;
    wo.field_selector = options_.field_selector;
    auto w = store_.Watch(res_, ns_, wo);
    if (!w) {
      ASB_LOG(WARN, "watch cache: watch failed", "resource", res_.plural, "error",
              w.error().message);
      WaitForStop(retry);
      retry = std::min(retry * 2, milliseconds(5000));
      continue;
    }
    retry = milliseconds(100);
    store::Watcher* watcher = w->get();
    {
      std::lock_guard l(mu_);
      objects_.clear();
      for (Json& obj : list->items) {
        std::string key = Key(obj);
        objects_[key] = std::move(obj);
      }
      synced_ = true;
      watcher_ = std::move(*w);
      if (stopping_) watcher_->Stop();
    }
    cv_.notify_all();
    if (options_.on_change) options_.on_change(nullptr);
    while (!stopping_) {
      auto ev = watcher->Next(std::chrono::seconds(5));
      if (!ev) {
        if (ev.error().code != Code::kGone && !stopping_)
          ASB_LOG(WARN, "watch cache: watch ended", "resource", res_.plural, "error",
                  ev.error().message);
        break;  // re-list
      }
      if (!*ev || (*ev)->type == store::EventType::kBookmark) continue;
      const Json& obj = (*ev)->object;
      {
        std::lock_guard l(mu_);
        if ((*ev)->type == store::EventType::kDeleted) {
          objects_.erase(Key(obj));
        } else {
          objects_[Key(obj)] = obj;
        }
      }
      if (options_.on_change) options_.on_change(&obj);
    }
    std::lock_guard l(mu_);
    watcher_.reset();
  }
}

}  // namespace asb::kube
