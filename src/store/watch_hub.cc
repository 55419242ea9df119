#include "store/watch_hub.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "store/object_meta.h"

namespace asb::store {

namespace internal {

// One watcher's queue. Producers (the store's write path, under its state lock) call Offer; the
// single consumer calls Next. Never blocks a producer: on overflow the channel turns "gone".
class WatchChannel {
 public:
  WatchChannel(std::string ns, LabelSelector labels, FieldSelector fields, size_t capacity)
      : ns_(std::move(ns)),
        labels_(std::move(labels)),
        fields_(std::move(fields)),
        capacity_(capacity),
        limit_(capacity) {}

  bool Wants(const Json& obj) const {
    if (!ns_.empty() && MetaString(obj, "namespace") != ns_) return false;
    return labels_.MatchesObject(obj) && fields_.Matches(obj);
  }

  // What a channel queues: the shared, immutable object the store published (or a fresh one for
  // a selector transition's DELETED). The consumer copies it out in Next, on its own thread:
  // the writer publishing under the store's state lock only bumps a reference count per watcher.
  struct Queued {
    EventType type;
    std::shared_ptr<const Json> object;
    int64_t revision;
  };

  // Queues initial events before the channel is registered; they don't count against capacity.
  void PushInitial(Queued ev) {
    std::lock_guard l(mu_);
    q_.push_back(std::move(ev));
    ++limit_;
  }

  // Translates a store change into this watcher's view (Kubernetes cacher semantics: an object
  // that starts matching is ADDED, one that stops matching is DELETED with its previous content
  // at the new revision). nullopt when the watcher doesn't see the change.
  std::optional<Queued> Translate(EventType type, const std::shared_ptr<const Json>& obj,
                                  const std::shared_ptr<const Json>& prev, int64_t rev) const {
    switch (type) {
      case EventType::kAdded:
      case EventType::kDeleted:
        if (Wants(*obj)) return Queued{type, obj, rev};
        return std::nullopt;
      case EventType::kModified: {
        bool now = Wants(*obj);
        bool before = prev != nullptr && Wants(*prev);
        if (now) return Queued{before ? EventType::kModified : EventType::kAdded, obj, rev};
        if (!before) return std::nullopt;
        auto last = std::make_shared<Json>(*prev);
        (*last)["metadata"]["resourceVersion"] = std::to_string(rev);
        return Queued{EventType::kDeleted, std::move(last), rev};
      }
      case EventType::kBookmark:
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Returns false when the channel is dead and should be dropped.
  bool Offer(EventType type, const std::shared_ptr<const Json>& obj,
             const std::shared_ptr<const Json>& prev, int64_t rev) {
    if (dead_.load(std::memory_order_acquire)) return false;
    std::optional<Queued> ev = Translate(type, obj, prev, rev);
    if (!ev) return true;
    bool queued;
    {
      std::lock_guard l(mu_);
      if (stopped_ || closed_ || gone_) return false;
      queued = q_.size() < limit_;
      if (queued) {
        q_.push_back(std::move(*ev));
      } else {
        gone_ = true;
        q_.clear();
        dead_.store(true, std::memory_order_release);
      }
    }
    // Woken after the unlock, so the consumer doesn't wake only to block on mu_ while the
    // writer still holds it.
    cv_.notify_one();
    return queued;
  }

  Result<std::optional<WatchEvent>> Next(std::chrono::milliseconds timeout) {
    ASB_ASSIGN_OR_RETURN(std::optional<Queued> ev, Take(timeout));
    if (!ev) return std::optional<WatchEvent>();
    // The copy the consumer owns, made outside every lock.
    return std::optional<WatchEvent>(WatchEvent{ev->type, *ev->object, ev->revision});
  }

  Result<std::optional<SharedWatchEvent>> NextShared(std::chrono::milliseconds timeout) {
    ASB_ASSIGN_OR_RETURN(std::optional<Queued> ev, Take(timeout));
    if (!ev) return std::optional<SharedWatchEvent>();
    return std::optional<SharedWatchEvent>(
        SharedWatchEvent{ev->type, std::move(ev->object), ev->revision});
  }

  // The next queued event, waiting up to `timeout`; nullopt on timeout.
  Result<std::optional<Queued>> Take(std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return !q_.empty() || gone_ || stopped_ || closed_; });
    if (stopped_) return MakeError(Code::kAborted, "watch stopped");
    if (gone_)
      return MakeError(Code::kGone, "watcher fell too far behind (more than " +
                                        std::to_string(capacity_) +
                                        " undelivered events); re-list and watch again");
    if (q_.empty()) {
      if (closed_) return MakeError(Code::kUnavailable, "store closed");
      return std::optional<Queued>();
    }
    Queued ev = std::move(q_.front());
    q_.pop_front();
    if (limit_ > capacity_) --limit_;
    return std::optional<Queued>(std::move(ev));
  }

  void Stop() {
    std::lock_guard l(mu_);
    stopped_ = true;
    dead_.store(true, std::memory_order_release);
    cv_.notify_all();
  }

  void Close() {
    std::lock_guard l(mu_);
    closed_ = true;
    dead_.store(true, std::memory_order_release);
    cv_.notify_all();
  }

 private:
  const std::string ns_;
  const LabelSelector labels_;
  const FieldSelector fields_;
  const size_t capacity_;
  std::atomic<bool> dead_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> q_;
  size_t limit_;
  bool gone_ = false;
  bool stopped_ = false;
  bool closed_ = false;
};

}  // namespace internal

namespace {

class ChannelWatcher final : public Watcher {
 public:
  explicit ChannelWatcher(std::shared_ptr<internal::WatchChannel> ch) : ch_(std::move(ch)) {}
  ~ChannelWatcher() override { ch_->Stop(); }
  Result<std::optional<WatchEvent>> Next(std::chrono::milliseconds timeout) override {
    return ch_->Next(timeout);
  }
  Result<std::optional<SharedWatchEvent>> NextShared(std::chrono::milliseconds timeout) override {
    return ch_->NextShared(timeout);
  }
  void Stop() override { ch_->Stop(); }

 private:
  std::shared_ptr<internal::WatchChannel> ch_;
};

}  // namespace

WatchHub::WatchHub(size_t log_capacity, size_t watcher_buffer)
    : log_capacity_(std::max<size_t>(1, log_capacity)),
      watcher_buffer_(std::max<size_t>(1, watcher_buffer)) {}

WatchHub::~WatchHub() {
  for (auto& [res, chans] : watchers_)
    for (auto& ch : chans) ch->Close();
}

std::shared_ptr<internal::WatchChannel> WatchHub::NewChannel(std::string ns, LabelSelector labels,
                                                             FieldSelector fields) {
  return std::make_shared<internal::WatchChannel>(std::move(ns), std::move(labels),
                                                  std::move(fields), watcher_buffer_);
}

bool WatchHub::Wants(const internal::WatchChannel& ch, const Json& obj) { return ch.Wants(obj); }

void WatchHub::Initial(internal::WatchChannel& ch, ObjPtr obj, int64_t revision) {
  ch.PushInitial({EventType::kAdded, std::move(obj), revision});
}

Status WatchHub::Replay(internal::WatchChannel& ch, const std::string& resource,
                        int64_t from) const {
  if (from < floor_)
    return MakeError(Code::kGone, "too old resource version: " + std::to_string(from) + " (" +
                                      std::to_string(floor_ + 1) + ")");
  auto it = std::upper_bound(log_.begin(), log_.end(), from,
                             [](int64_t r, const Event& e) { return r < e.revision; });
  // Replayed events are queued like initial ones: they don't count against the live budget.
  for (; it != log_.end(); ++it) {
    if (it->resource != resource) continue;
    auto ev = ch.Translate(it->type, it->object, it->prev, it->revision);
    if (ev) ch.PushInitial(std::move(*ev));
  }
  return OkStatus();
}

std::unique_ptr<Watcher> WatchHub::Register(const std::string& resource,
                                            std::shared_ptr<internal::WatchChannel> ch) {
  watchers_[resource].push_back(ch);
  return std::make_unique<ChannelWatcher>(std::move(ch));
}

void WatchHub::Publish(Event event) {
  auto wit = watchers_.find(event.resource);
  if (wit != watchers_.end()) {
    auto& chans = wit->second;
    chans.erase(std::remove_if(chans.begin(), chans.end(),
                               [&](const std::shared_ptr<internal::WatchChannel>& ch) {
                                 return !ch->Offer(event.type, event.object, event.prev,
                                                   event.revision);
                               }),
                chans.end());
  }
  log_.push_back(std::move(event));
  while (log_.size() > log_capacity_) {
    floor_ = log_.front().revision;
    log_.pop_front();
  }
}

}  // namespace asb::store
