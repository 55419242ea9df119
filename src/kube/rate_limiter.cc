#include "kube/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace asb::kube {

RateLimiter::RateLimiter(double qps, int burst)
    : qps_(qps),
      burst_(std::max(1, burst)),
      tokens_(std::max(1, burst)),
      last_(std::chrono::steady_clock::now()) {}

std::chrono::nanoseconds RateLimiter::Wait() {
  if (qps_ <= 0) return std::chrono::nanoseconds(0);
  std::chrono::nanoseconds wait{0};
  {
    std::lock_guard l(mu_);
    SteadyTime now = std::chrono::steady_clock::now();
    std::chrono::duration<double> elapsed = now - last_;
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * qps_);
    // Take the token now (possibly going negative): callers queue up in arrival order, each
    // sleeping for the deficit it found.
    tokens_ -= 1;
    if (tokens_ < 0)
      wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(-tokens_ / qps_));
  }
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
  return wait;
}

}  // namespace asb::kube
