#include "node/restart_tracker.h"

#include <algorithm>

namespace asb::node {

using std::chrono::milliseconds;

milliseconds RestartBackoff(int restarts, milliseconds base, milliseconds cap) {
  milliseconds d = base;
  for (int i = 0; i < restarts && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

bool ShouldRestart(RestartPolicy policy, int exit_code) {
  switch (policy) {
    case RestartPolicy::kAlways:
      return true;
    case RestartPolicy::kOnFailure:
      return exit_code != 0;
    case RestartPolicy::kNever:
      return false;
  }
  return false;
}

bool RestartTracker::OnStarted(SystemTime now) {
  const bool restart = has_run_;
  has_run_ = true;
  started_at_ = now;
  return restart;
}

void RestartTracker::OnAdopted(SystemTime now) {
  has_run_ = true;
  started_at_ = now;
}

milliseconds RestartTracker::OnExited(SystemTime now) {
  if (started_at_ != SystemTime{} && now - started_at_ >= policy_.reset_after) {
    consecutive_restarts_ = 0;
  }
  started_at_ = SystemTime{};
  return Delay(consecutive_restarts_, now);
}

milliseconds RestartTracker::OnStartFailed(SystemTime now) {
  return Delay(consecutive_restarts_, now);
}

milliseconds RestartTracker::OnPullFailed(SystemTime now) { return Delay(pull_failures_, now); }

milliseconds RestartTracker::Delay(int& count, SystemTime now) {
  const milliseconds d = RestartBackoff(count++, policy_.base, policy_.cap);
  next_start_at_ = now + d;
  return d;
}

}  // namespace asb::node
