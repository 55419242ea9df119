#include "base/keyed_queue.h"

#include <algorithm>
#include <utility>

#include "base/log.h"

namespace asb {

KeyedQueue::KeyedQueue(Clock& clock, QueueOptions options, Handler handler)
    : clock_(clock), options_(std::move(options)), handler_(std::move(handler)) {}

KeyedQueue::~KeyedQueue() { Stop(); }

void KeyedQueue::Start() {
  std::lock_guard l(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  threads_.emplace_back([this] { TimerLoop(); });
}

void KeyedQueue::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    queue_.clear();
    dirty_.clear();
    timers_.clear();
    timer_at_.clear();
    threads.swap(threads_);
  }
  work_cv_.notify_all();
  timer_cv_.notify_all();
  for (auto& t : threads) t.join();
}

void KeyedQueue::Add(const std::string& key) {
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    AddLocked(key);
  }
  work_cv_.notify_one();
}

void KeyedQueue::AddLocked(const std::string& key) {
  if (!dirty_.insert(key).second) return;  // already waiting
  // A key held by a worker stays dirty and is re-queued by that worker when it finishes, so the
  // same key never runs on two workers at once.
  if (processing_.count(key)) return;
  queue_.push_back(key);
}

void KeyedQueue::AddAfter(const std::string& key, Duration d) {
  if (d.count() <= 0) {
    Add(key);
    return;
  }
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    SystemTime at = clock_.Now() + d;
    auto it = timer_at_.find(key);
    if (it != timer_at_.end()) {
      if (it->second <= at) return;  // an earlier timer already covers this one
      timers_.erase({it->second, key});
      it->second = at;
    } else {
      timer_at_.emplace(key, at);
    }
    timers_.insert({at, key});
  }
  timer_cv_.notify_all();
}

void KeyedQueue::Wake() { timer_cv_.notify_all(); }

size_t KeyedQueue::Len() const {
  std::lock_guard l(mu_);
  return queue_.size();
}

size_t KeyedQueue::PendingTimers() const {
  std::lock_guard l(mu_);
  return timers_.size();
}

int KeyedQueue::Failures(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

uint64_t KeyedQueue::Processed() const {
  std::lock_guard l(mu_);
  return processed_;
}

Duration KeyedQueue::Backoff(const QueueOptions& o, int failures) {
  Duration d = o.base_backoff;
  for (int i = 0; i < failures && d < o.max_backoff; ++i) d *= 2;
  return std::min(d, o.max_backoff);
}

void KeyedQueue::WorkerLoop() {
  std::unique_lock l(mu_);
  while (true) {
    work_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::string key = std::move(queue_.front());
    queue_.pop_front();
    dirty_.erase(key);
    processing_.insert(key);
    l.unlock();

    Result<Requeue> result = handler_(key);

    l.lock();
    processing_.erase(key);
    ++processed_;
    std::optional<Duration> after;
    if (!result) {
      int& f = failures_[key];
      after = Backoff(options_, f);
      ++f;
      ASB_LOG(WARN, "reconcile failed", "queue", options_.name, "key", key, "error",
              result.error().message, "retry_ms", after->count());
    } else {
      failures_.erase(key);
      after = result->after;
    }
    if (stopping_) return;
    // A key added while we held it runs again now (its event may postdate our read).
    if (dirty_.count(key)) {
      queue_.push_back(key);
      work_cv_.notify_one();
    }
    if (after) {
      l.unlock();
      AddAfter(key, *after);
      l.lock();
    }
  }
}

void KeyedQueue::TimerLoop() {
  std::unique_lock l(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      timer_cv_.wait(l);
      continue;
    }
    SystemTime now = clock_.Now();
    bool moved = false;
    while (!timers_.empty() && timers_.begin()->first <= now) {
      std::string key = timers_.begin()->second;
      timers_.erase(timers_.begin());
      timer_at_.erase(key);
      AddLocked(key);
      moved = true;
    }
    if (moved) work_cv_.notify_all();
    if (timers_.empty()) continue;
    auto wait = timers_.begin()->first - now;
    timer_cv_.wait_for(l, std::chrono::duration_cast<std::chrono::nanoseconds>(wait));
  }
}

}  // namespace asb
