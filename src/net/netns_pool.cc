#include "net/netns_pool.h"

#include <chrono>

#include "base/log.h"

namespace asb::net {
namespace {
// After a failed make (the CIDR full, the kernel refusing): not a busy loop.
constexpr std::chrono::seconds kRetryAfterFailure{1};
}  // namespace

NetnsPool::NetnsPool(size_t target, Make make, Destroy destroy, Scrub scrub)
    : target_(target),
      make_(std::move(make)),
      destroy_(std::move(destroy)),
      scrub_(std::move(scrub)) {
  if (target_ > 0) thread_ = std::thread([this] { Run(); });
}

std::optional<WiredNetns> NetnsPool::Take() {
  std::lock_guard l(mu_);
  if (ready_.empty()) return std::nullopt;
  WiredNetns out = std::move(ready_.front());
  ready_.pop_front();
  cv_.notify_all();
  return out;
}

void NetnsPool::Retire(WiredNetns e) {
  {
    std::lock_guard l(mu_);
    if (!stop_ && thread_.joinable()) {
      retired_.push_back(std::move(e));
      cv_.notify_all();
      return;
    }
  }
  destroy_(e);  // no thread to hand it to
}

uint64_t NetnsPool::made() const {
  std::lock_guard l(mu_);
  return made_;
}

uint64_t NetnsPool::recycled() const {
  std::lock_guard l(mu_);
  return recycled_;
}

size_t NetnsPool::ready() const {
  std::lock_guard l(mu_);
  return ready_.size();
}

void NetnsPool::Stop() {
  std::deque<WiredNetns> left;
  std::deque<WiredNetns> retired;
  {
    std::lock_guard l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard l(mu_);
    left.swap(ready_);
    retired.swap(retired_);
  }
  for (const WiredNetns& e : retired) destroy_(e);
  for (const WiredNetns& e : left) destroy_(e);
}

void NetnsPool::Run() {
  std::unique_lock l(mu_);
  while (!stop_) {
    if (!retired_.empty()) {
      WiredNetns e = std::move(retired_.front());
      retired_.pop_front();
      const bool keep = ready_.size() < 2 * target_;
      l.unlock();
      Status clean = keep ? scrub_(e) : OkStatus();
      if (!keep || !clean) {
        if (!clean) {
          ASB_LOG(WARN, "pod network: a used namespace is not reused", "path", e.path, "error",
                  clean.error().message);
        }
        destroy_(e);
        l.lock();
        continue;
      }
      l.lock();
      ready_.push_back(std::move(e));
      ++recycled_;
      continue;
    }
    if (ready_.size() >= target_) {
      cv_.wait(l, [&] { return stop_ || !retired_.empty() || ready_.size() < target_; });
      continue;
    }
    l.unlock();
    Result<WiredNetns> made = make_();
    l.lock();
    if (made) {
      ready_.push_back(std::move(*made));
      ++made_;
      continue;
    }
    ASB_LOG(WARN, "pod network: pre-wiring a namespace failed", "error", made.error().message);
    cv_.wait_for(l, kRetryAfterFailure, [&] { return stop_; });
  }
}

}  // namespace asb::net
