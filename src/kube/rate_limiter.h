// Client-side rate limit for API requests: a token bucket of `burst` tokens refilled at `qps`
// per second, as client-go's flowcontrol.NewTokenBucketRateLimiter. qps <= 0 disables it.
// Thread-safe; Wait blocks the caller until a token is free.
#pragma once

#include <chrono>
#include <mutex>

namespace asb::kube {

class RateLimiter {
 public:
  RateLimiter(double qps, int burst);
  // Takes a token, sleeping until one is free. Returns how long it waited.
  std::chrono::nanoseconds Wait();

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  const double qps_;
  const double burst_;
  std::mutex mu_;
  double tokens_;
  SteadyTime last_;
};

}  // namespace asb::kube
