#include "node/work_queue.h"

#include <algorithm>

namespace asb::node {

void WorkQueue::Start(int workers, ProcessFn fn) {
  std::lock_guard l(mu_);
  fn_ = std::move(fn);
  stopping_ = false;
  for (int i = 0; i < std::max(1, workers); ++i) threads_.emplace_back([this] { Worker(); });
}

void WorkQueue::Stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkQueue::Add(const std::string& key) {
  {
    std::lock_guard l(mu_);
    AddLocked(key);
  }
  cv_.notify_one();
}

void WorkQueue::AddLocked(const std::string& key) {
  if (stopping_) return;
  if (active_.count(key) != 0) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) ready_.push_back(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay <= std::chrono::milliseconds(0)) return Add(key);
  AddAt(key, std::chrono::steady_clock::now() + delay);
}

void WorkQueue::AddAt(const std::string& key, SteadyTime when) {
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    auto it = delayed_.find(key);
    if (it != delayed_.end() && it->second <= when) return;  // an earlier wake-up is pending
    delayed_[key] = when;
    timers_.emplace(when, key);
  }
  // Every worker may be waiting for a later deadline; wake them to recompute.
  cv_.notify_all();
}

size_t WorkQueue::PendingForTest() {
  std::lock_guard l(mu_);
  return ready_.size() + delayed_.size();
}

void WorkQueue::Worker() {
  std::unique_lock l(mu_);
  while (true) {
    if (stopping_) return;
    // Move due timers to the ready list.
    auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.top().first <= now) {
      Timer t = timers_.top();
      timers_.pop();
      auto it = delayed_.find(t.second);
      if (it == delayed_.end() || it->second != t.first) continue;  // superseded
      delayed_.erase(it);
      AddLocked(t.second);
    }
    if (ready_.empty()) {
      if (timers_.empty()) {
        cv_.wait(l);
      } else {
        cv_.wait_until(l, timers_.top().first);
      }
      continue;
    }
    std::string key = std::move(ready_.front());
    ready_.pop_front();
    queued_.erase(key);
    active_.insert(key);
    l.unlock();
    fn_(key);
    l.lock();
    active_.erase(key);
    if (dirty_.erase(key) != 0) {
      if (queued_.insert(key).second) ready_.push_back(key);
      cv_.notify_one();
    }
  }
}

}  // namespace asb::node
