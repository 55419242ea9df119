// RestartTracker: when one pod's container may be started again, with no I/O and no clock of its
// own (the node passes `now`), so its rules are table-tested on a FakeClock (kubelet's rules):
//   - a crash (the container exited and the policy restarts it) or a failed start waits
//     base * 2^n, n the consecutive restarts so far, capped at `cap` (10 s .. 5 min);
//   - a container that ran for `reset_after` (10 min) before it exited starts over at `base`;
//   - a failed image pull backs off the same way on its own count (ErrImagePull, then
//     ImagePullBackOff), reset by the next successful pull.
// Not thread-safe (a pod's tracker is used only by the worker syncing that pod).
#pragma once

#include <chrono>

#include "base/clock.h"
#include "node/pod_spec.h"

namespace asb::node {

struct BackoffPolicy {
  std::chrono::milliseconds base{10000};
  std::chrono::milliseconds cap{300000};
  std::chrono::milliseconds reset_after = std::chrono::minutes(10);
};

// The back-off after `restarts` consecutive restarts: base * 2^restarts, capped. Pure.
std::chrono::milliseconds RestartBackoff(int restarts, std::chrono::milliseconds base,
                                         std::chrono::milliseconds cap);

// True when a container that terminated with exit_code is restarted under the policy. Pure.
bool ShouldRestart(RestartPolicy policy, int exit_code);

class RestartTracker {
 public:
  explicit RestartTracker(BackoffPolicy policy = {}) : policy_(policy) {}

  // Whether a start may be attempted at `now` (no back-off pending).
  bool MayStart(SystemTime now) const { return now >= next_start_at_; }
  SystemTime next_start_at() const { return next_start_at_; }

  // A sandbox started at `now`. True when this start is a restart (a container ran before), which
  // is what restartCount counts.
  bool OnStarted(SystemTime now);
  // A sandbox of an earlier asbd was re-adopted at `now` (its run time counts from here).
  void OnAdopted(SystemTime now);
  // A container ran before this agent knew the pod (stored status, a dead leftover): the next
  // start is a restart.
  void MarkHasRun() { has_run_ = true; }
  bool has_run() const { return has_run_; }

  // The container exited at `now` and its policy restarts it; returns the back-off before the
  // restart (CrashLoopBackOff).
  std::chrono::milliseconds OnExited(SystemTime now);
  // Starting the sandbox failed at `now`; returns the back-off before the next attempt.
  std::chrono::milliseconds OnStartFailed(SystemTime now);
  // Resolving the image failed at `now`; returns the back-off before the next pull.
  std::chrono::milliseconds OnPullFailed(SystemTime now);
  void OnPullSucceeded() { pull_failures_ = 0; }

 private:
  std::chrono::milliseconds Delay(int& count, SystemTime now);

  BackoffPolicy policy_;
  bool has_run_ = false;
  int consecutive_restarts_ = 0;  // back-off exponent of crashes and failed starts
  int pull_failures_ = 0;         // back-off exponent of failed pulls
  SystemTime started_at_{};       // the running container's start (or adoption); {} if none
  SystemTime next_start_at_{};
};

}  // namespace asb::node
