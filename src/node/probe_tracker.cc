#include "node/probe_tracker.h"

#include <algorithm>

namespace asb::node {

void ProbeTracker::Start(const ProbeSpec& spec, SystemTime first_at, bool ready) {
  period_ = spec.period;
  success_threshold_ = spec.success_threshold;
  failure_threshold_ = spec.failure_threshold;
  next_at_ = first_at;
  fast_interval_ = first_interval_;
  ready_ = ready;
  ever_ready_ = ready;
  successes_ = 0;
  failures_ = 0;
}

ProbeTracker::Change ProbeTracker::OnResult(bool success, SystemTime now) {
  Change change = Change::kNone;
  if (success) {
    failures_ = 0;
    if (++successes_ >= success_threshold_) {
      if (!ready_) change = Change::kBecameReady;
      ready_ = true;
      ever_ready_ = true;
    }
  } else {
    successes_ = 0;
    if (++failures_ >= failure_threshold_ && ready_) {
      change = Change::kBecameUnready;
      ready_ = false;
    }
  }
  if (!ever_ready_) {
    next_at_ = now + fast_interval_;
    fast_interval_ = std::min<std::chrono::milliseconds>(fast_interval_ * 2, period_);
  } else {
    next_at_ = now + period_;
  }
  return change;
}

}  // namespace asb::node
