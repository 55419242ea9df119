#include "net/netns_pool.h"

#include <chrono>

#include "base/log.h"

namespace asb::net {
namespace {
// After a failed make (the CIDR full, the kernel refusing): not a busy loop.
constexpr std::chrono::seconds kRetryAfterFailure{1};
}  // namespace

NetnsPool::NetnsPool(size_t target, Make make, Destroy destroy, Reap reap)
    : target_(target),
      make_(std::move(make)),
      destroy_(std::move(destroy)),
      reap_(std::move(reap)) {
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

void NetnsPool::Retire(std::string path) {
  {
    std::lock_guard l(mu_);
    if (!stop_ && thread_.joinable()) {
      retired_.push_back(std::move(path));
      cv_.notify_all();
      return;
    }
  }
  reap_(path);  // no thread to hand it to
}

size_t NetnsPool::ready() const {
  std::lock_guard l(mu_);
  return ready_.size();
}

void NetnsPool::Stop() {
  std::deque<WiredNetns> left;
  std::deque<std::string> retired;
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
  for (const std::string& path : retired) reap_(path);
  for (const WiredNetns& e : left) destroy_(e);
}

void NetnsPool::Run() {
  std::unique_lock l(mu_);
  while (!stop_) {
    if (!retired_.empty()) {
      std::string path = std::move(retired_.front());
      retired_.pop_front();
      l.unlock();
      reap_(path);
      l.lock();
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
      continue;
    }
    ASB_LOG(WARN, "pod network: pre-wiring a namespace failed", "error", made.error().message);
    cv_.wait_for(l, kRetryAfterFailure, [&] { return stop_; });
  }
}

}  // namespace asb::net
