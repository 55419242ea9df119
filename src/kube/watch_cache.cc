#include "kube/watch_cache.h"

#include <deque>

#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "store/selector.h"

namespace asb::kube {

using std::chrono::milliseconds;

namespace {

// Continue tokens of List over the view: the last key returned, so the next page starts after
// it (the view may have changed in between: pages are not one snapshot, as with a live list
// whose continue token expired and was re-issued).
constexpr std::string_view kContinuePrefix = "watchcache:";

}  // namespace

class WatchCache::Subscriber : public store::Watcher {
 public:
  explicit Subscriber(size_t buffer) : buffer_(buffer) {}

  // False when this subscriber is done (stopped or overflowed): the cache drops it.
  bool Push(store::EventType type, std::shared_ptr<const Json> obj, int64_t rv) {
    std::lock_guard l(mu_);
    if (stopped_ || end_) return false;
    if (queue_.size() >= buffer_) {
      end_ = Error{Code::kGone, "watch cache: the consumer fell behind; re-list", 0};
      cv_.notify_all();
      return false;
    }
    queue_.push_back({type, std::move(obj), rv});
    cv_.notify_all();
    return true;
  }
  void End(Error e) {
    std::lock_guard l(mu_);
    if (!end_) end_ = std::move(e);
    cv_.notify_all();
  }

  Result<std::optional<store::WatchEvent>> Next(milliseconds timeout) override {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return !queue_.empty() || stopped_ || end_; });
    if (stopped_) return MakeError(Code::kAborted, "watch stopped");
    if (!queue_.empty()) {
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      store::WatchEvent ev;
      ev.type = p.type;
      ev.object = *p.obj;
      ev.resource_version = p.rv;
      return std::optional<store::WatchEvent>(std::move(ev));
    }
    if (end_) return tl::unexpected(*end_);
    return std::optional<store::WatchEvent>();
  }
  void Stop() override {
    std::lock_guard l(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

 private:
  struct Pending {
    store::EventType type;
    std::shared_ptr<const Json> obj;
    int64_t rv;
  };
  const size_t buffer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopped_ = false;
  std::optional<Error> end_;
};

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
    for (auto& s : subscribers_) s->End(Error{Code::kAborted, "watch cache stopped", 0});
    subscribers_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool WatchCache::WaitSynced(milliseconds timeout) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, timeout, [this] { return synced_ || stopping_.load(); }) && synced_;
}

bool WatchCache::synced() const {
  std::lock_guard l(mu_);
  return synced_;
}

int64_t WatchCache::revision() const {
  std::lock_guard l(mu_);
  return revision_;
}

bool WatchCache::WaitForRevision(int64_t rv, milliseconds timeout) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, timeout, [&] { return revision_ >= rv || stopping_.load(); }) &&
         revision_ >= rv;
}

std::optional<Json> WatchCache::Get(const std::string& ns, const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = objects_.find(Key(ns, name));
  if (it == objects_.end()) return std::nullopt;
  return *it->second;
}

std::vector<Json> WatchCache::Snapshot() const {
  std::lock_guard l(mu_);
  std::vector<Json> out;
  out.reserve(objects_.size());
  for (const auto& [key, obj] : objects_) out.push_back(*obj);
  return out;
}

Result<store::ListResult> WatchCache::List(const std::string& ns,
                                           const store::ListOptions& options) const {
  ASB_ASSIGN_OR_RETURN(store::LabelSelector labels,
                       store::ParseLabelSelector(options.label_selector));
  ASB_ASSIGN_OR_RETURN(store::FieldSelector fields,
                       store::ParseFieldSelector(res_, options.field_selector));
  Key after;
  bool resume = false;
  if (!options.continue_token.empty()) {
    std::string_view token = options.continue_token;
    size_t slash = token.find('/', kContinuePrefix.size());
    if (!StartsWith(token, kContinuePrefix) || slash == std::string_view::npos)
      return MakeError(Code::kInvalidArgument, "invalid continue token");
    after = {std::string(token.substr(kContinuePrefix.size(), slash - kContinuePrefix.size())),
             std::string(token.substr(slash + 1))};
    resume = true;
  }
  store::ListResult out;
  std::lock_guard l(mu_);
  out.resource_version = revision_;
  // The fewest objects that can match: those carrying the rarest label the selector requires.
  static const std::set<Key> kNone;
  const std::set<Key>* candidates = nullptr;
  for (const store::LabelRequirement& r : labels.requirements()) {
    bool single = r.op == store::LabelRequirement::Op::kEquals ||
                  (r.op == store::LabelRequirement::Op::kIn && r.values.size() == 1);
    if (!single) continue;
    auto found = label_index_.find(r.key + "=" + r.values[0]);
    const std::set<Key>* set = found == label_index_.end() ? &kNone : &found->second;
    if (!candidates || set->size() < candidates->size()) candidates = set;
  }
  const Key start = resume ? after : Key(ns, "");
  auto take = [&](const Json& obj) {  // false: the page is full
    if (!labels.empty() && !labels.MatchesObject(obj)) return true;
    if (!fields.empty() && !fields.Matches(obj)) return true;
    if (options.limit > 0 && static_cast<int64_t>(out.items.size()) == options.limit) {
      const Key& last = KeyOf(out.items.back());
      out.continue_token = std::string(kContinuePrefix) + last.first + "/" + last.second;
      return false;
    }
    out.items.push_back(obj);
    return true;
  };
  if (candidates) {
    auto it = resume ? candidates->upper_bound(start) : candidates->lower_bound(start);
    for (; it != candidates->end(); ++it) {
      if (!ns.empty() && it->first != ns) break;
      auto obj = objects_.find(*it);
      if (obj != objects_.end() && !take(*obj->second)) break;
    }
    return out;
  }
  auto it = resume ? objects_.upper_bound(start) : objects_.lower_bound(start);
  for (; it != objects_.end(); ++it) {
    if (!ns.empty() && it->first.first != ns) break;
    if (!take(*it->second)) break;
  }
  return out;
}

std::unique_ptr<store::Watcher> WatchCache::Subscribe() {
  auto sub = std::make_shared<Subscriber>(options_.subscriber_buffer);
  std::lock_guard l(mu_);
  for (const auto& [key, obj] : objects_) {
    auto rv = ParseInt(GetString(*obj, "metadata.resourceVersion"));
    sub->Push(store::EventType::kAdded, obj, rv ? *rv : 0);
  }
  subscribers_.push_back(sub);
  // The caller owns the Watcher; the cache keeps a share to push to until it ends.
  struct Handle : store::Watcher {
    std::shared_ptr<Subscriber> s;
    ~Handle() override { s->Stop(); }
    Result<std::optional<store::WatchEvent>> Next(milliseconds t) override { return s->Next(t); }
    void Stop() override { s->Stop(); }
  };
  auto handle = std::make_unique<Handle>();
  handle->s = std::move(sub);
  return handle;
}

WatchCache::Key WatchCache::KeyOf(const Json& obj) {
  return {GetString(obj, "metadata.namespace"), GetString(obj, "metadata.name")};
}

void WatchCache::WaitForStop(milliseconds d) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, d, [this] { return stopping_.load(); });
}

void WatchCache::PublishLocked(store::EventType type, const std::shared_ptr<const Json>& obj,
                               int64_t rv) {
  std::erase_if(subscribers_,
                [&](const std::shared_ptr<Subscriber>& s) { return !s->Push(type, obj, rv); });
}

void WatchCache::IndexLocked(const Key& key, const Json& obj, bool add) {
  const Json* labels = Find(obj, "metadata.labels");
  if (!labels || !labels->is_object()) return;
  for (const auto& [k, v] : labels->items()) {
    if (!v.is_string()) continue;
    std::string entry = k + "=" + v.get<std::string>();
    if (add) {
      label_index_[entry].insert(key);
    } else if (auto it = label_index_.find(entry); it != label_index_.end()) {
      it->second.erase(key);
      if (it->second.empty()) label_index_.erase(it);
    }
  }
}

void WatchCache::SetLocked(const Key& key, std::shared_ptr<const Json> obj) {
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    IndexLocked(key, *it->second, false);
    if (!obj) {
      objects_.erase(it);
      return;
    }
    it->second = std::move(obj);
    IndexLocked(key, *it->second, true);
  } else if (obj) {
    IndexLocked(key, *obj, true);
    objects_.emplace(key, std::move(obj));
  }
}

void WatchCache::ReplaceLocked(std::vector<Json> items, int64_t rv) {
  std::map<Key, std::shared_ptr<const Json>> fresh;
  for (Json& obj : items) {
    Key key = KeyOf(obj);
    fresh.emplace(std::move(key), std::make_shared<const Json>(std::move(obj)));
  }
  // What the watch missed, as the events it would have delivered (the first list: every object
  // ADDED, for subscribers that came before it).
  for (const auto& [key, old] : objects_)
    if (!fresh.count(key)) PublishLocked(store::EventType::kDeleted, old, rv);
  for (const auto& [key, obj] : fresh) {
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      PublishLocked(store::EventType::kAdded, obj, rv);
    } else if (GetString(*it->second, "metadata.resourceVersion") !=
               GetString(*obj, "metadata.resourceVersion")) {
      PublishLocked(store::EventType::kModified, obj, rv);
    }
  }
  objects_ = std::move(fresh);
  label_index_.clear();
  for (const auto& [key, obj] : objects_) IndexLocked(key, *obj, true);
  revision_ = std::max(revision_, rv);
  synced_ = true;
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
      ReplaceLocked(std::move(list->items), list->resource_version);
      watcher_ = std::move(*w);
      if (stopping_) watcher_->Stop();
    }
    cv_.notify_all();
    if (options_.on_change) options_.on_change(nullptr);
    const auto listed_at = std::chrono::steady_clock::now();
    while (!stopping_) {
      if (options_.relist_period.count() > 0 &&
          std::chrono::steady_clock::now() - listed_at >= options_.relist_period)
        break;  // re-list: the difference reaches subscribers as events
      auto ev = watcher->Next(std::chrono::seconds(1));
      if (!ev) {
        if (ev.error().code != Code::kGone && !stopping_)
          ASB_LOG(WARN, "watch cache: watch ended", "resource", res_.plural, "error",
                  ev.error().message);
        break;  // re-list
      }
      if (!*ev) continue;
      const int64_t rv = (*ev)->resource_version;
      if ((*ev)->type == store::EventType::kBookmark) {
        {
          std::lock_guard l(mu_);
          revision_ = std::max(revision_, rv);
        }
        cv_.notify_all();
        continue;
      }
      auto obj = std::make_shared<const Json>(std::move((*ev)->object));
      {
        std::lock_guard l(mu_);
        SetLocked(KeyOf(*obj), (*ev)->type == store::EventType::kDeleted ? nullptr : obj);
        revision_ = std::max(revision_, rv);
        PublishLocked((*ev)->type, obj, rv);
      }
      cv_.notify_all();
      if (options_.on_change) options_.on_change(obj.get());
    }
    std::lock_guard l(mu_);
    watcher_.reset();
  }
}

}  // namespace asb::kube
