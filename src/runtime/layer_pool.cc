#include "runtime/layer_pool.h"

#include <algorithm>

#include "base/log.h"

namespace asb::runtime {

LayerPool::LayerPool(ScratchDisks& disks, LayerPoolOptions options)
    : disks_(disks), options_(std::move(options)) {
  if (options_.depth > 0) {
    for (int64_t bytes : options_.prefill) {
      int64_t rounded = ScratchDisks::RoundedSize(bytes);
      bool known = std::any_of(sizes_.begin(), sizes_.end(),
                               [&](const Size& s) { return s.bytes == rounded; });
      if (!known && sizes_.size() < options_.max_sizes) sizes_.push_back({.bytes = rounded});
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

LayerPool::~LayerPool() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
  ASB_LOG(INFO, "writable layer pool stopped", "hits", stats_.hits, "misses", stats_.misses, "made",
          stats_.made, "failures", stats_.failures, "released_inline", stats_.released_inline);
  // Loop finished every release before it returned; the ready layers close here.
  std::list<Size> sizes;
  std::deque<UniqueFd> late;  // Released while the thread was stopping
  {
    std::lock_guard l(mu_);
    sizes.swap(sizes_);
    late.swap(releasing_);
  }
}

Result<ScratchLayer> LayerPool::Take(int64_t bytes) {
  const int64_t rounded = ScratchDisks::RoundedSize(bytes);
  {
    std::unique_lock l(mu_);
    if (options_.depth > 0 && options_.max_sizes > 0) {
      auto it = std::find_if(sizes_.begin(), sizes_.end(),
                             [&](const Size& s) { return s.bytes == rounded; });
      if (it == sizes_.end()) {
        if (sizes_.size() >= options_.max_sizes) {
          auto lru = std::min_element(
              sizes_.begin(), sizes_.end(),
              [](const Size& a, const Size& b) { return a.last_take < b.last_take; });
          for (ScratchLayer& layer : lru->ready) releasing_.push_back(std::move(layer.mount));
          sizes_.erase(lru);
        }
        sizes_.push_back({.bytes = rounded});
        it = std::prev(sizes_.end());
      }
      it->last_take = ++take_clock_;
      if (!it->ready.empty()) {
        ScratchLayer layer = std::move(it->ready.front());
        it->ready.pop_front();
        ++stats_.hits;
        l.unlock();
        work_cv_.notify_one();  // refill
        return layer;
      }
    }
    ++stats_.misses;
  }
  work_cv_.notify_one();
  return disks_.CreateDetached(rounded);
}

void LayerPool::Release(UniqueFd layer) {
  if (!layer) return;
  {
    std::lock_guard l(mu_);
    if (releasing_.size() >= options_.max_releasing) {
      ++stats_.released_inline;
    } else {
      releasing_.push_back(std::move(layer));
    }
  }
  work_cv_.notify_one();
  layer.Reset();  // only when the queue was full (moved from otherwise)
}

LayerPool::Stats LayerPool::GetStats() {
  std::lock_guard l(mu_);
  Stats s = stats_;
  for (const Size& size : sizes_) s.ready += size.ready.size();
  s.releasing = releasing_.size();
  return s;
}

bool LayerPool::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  return idle_cv_.wait_for(l, timeout, [&] { return IdleLocked(); });
}

LayerPool::Size* LayerPool::NextToFill() {
  if (stop_) return nullptr;
  for (Size& s : sizes_) {
    if (s.ready.size() < options_.depth) return &s;
  }
  return nullptr;
}

bool LayerPool::IdleLocked() {
  if (busy_ || !releasing_.empty()) return false;
  return NextToFill() == nullptr || std::chrono::steady_clock::now() < retry_at_;
}

void LayerPool::Loop() {
  std::unique_lock l(mu_);
  while (true) {
    // Releases first: they hold disk space (a used layer may be full) and are never refused.
    if (!releasing_.empty()) {
      UniqueFd layer = std::move(releasing_.front());
      releasing_.pop_front();
      busy_ = true;
      l.unlock();
      layer.Reset();  // the unmount and the loop detach run here, in this thread
      l.lock();
      busy_ = false;
      continue;
    }
    if (stop_) break;
    const auto now = std::chrono::steady_clock::now();
    Size* size = now >= retry_at_ ? NextToFill() : nullptr;
    if (size == nullptr) {
      idle_cv_.notify_all();
      if (now < retry_at_ && NextToFill() != nullptr) {
        work_cv_.wait_until(l, retry_at_);
      } else {
        work_cv_.wait(l);
      }
      continue;
    }
    const int64_t bytes = size->bytes;  // `size` may be dropped while mu_ is released
    busy_ = true;
    l.unlock();
    auto layer = disks_.CreateDetached(bytes);
    l.lock();
    busy_ = false;
    if (!layer) {
      ++stats_.failures;
      failures_in_row_ = std::min(failures_in_row_ + 1, 6);
      retry_at_ =
          std::chrono::steady_clock::now() + options_.retry_after * (1 << (failures_in_row_ - 1));
      ASB_LOG(WARN, "writable layer pool: making a layer failed", "bytes", bytes, "error",
              layer.error().message);
      continue;
    }
    failures_in_row_ = 0;
    ++stats_.made;
    auto it =
        std::find_if(sizes_.begin(), sizes_.end(), [&](const Size& s) { return s.bytes == bytes; });
    if (stop_ || it == sizes_.end() || it->ready.size() >= options_.depth) {
      releasing_.push_back(std::move(layer->mount));  // no longer wanted (size dropped, stop)
    } else {
      it->ready.push_back(std::move(*layer));
    }
  }
  idle_cv_.notify_all();
}

}  // namespace asb::runtime
