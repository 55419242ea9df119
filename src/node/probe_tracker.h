// ProbeTracker: the readiness-probe state machine of one container, with no I/O and no clock of
// its own (the node passes `now`), so its rules are table-tested on a FakeClock:
//   - the first probe is due at the time Start() names (the probe's initialDelaySeconds after a
//     start; at once for a re-adopted sandbox);
//   - until the container has been ready once, probes come every first_interval, doubling up to
//     periodSeconds, so a warm pool member is Ready milliseconds after its server listens;
//     afterwards every periodSeconds (kubelet probes at periodSeconds from the start, which would
//     keep every fresh sandbox unready for its first period);
//   - successThreshold consecutive successes make it ready, failureThreshold consecutive failures
//     make a ready container unready.
// Not thread-safe (a pod's tracker is used only by the worker syncing that pod).
#pragma once

#include <chrono>

#include "base/clock.h"
#include "node/pod_spec.h"

namespace asb::node {

class ProbeTracker {
 public:
  explicit ProbeTracker(std::chrono::milliseconds first_interval = std::chrono::milliseconds(2))
      : first_interval_(first_interval) {}

  // A container (re)started or was re-adopted: the first probe is due at `first_at`; `ready` is
  // the readiness it starts with (false after a start, the stored one after a re-adoption).
  void Start(const ProbeSpec& spec, SystemTime first_at, bool ready);

  bool Due(SystemTime now) const { return now >= next_at_; }

  enum class Change { kNone, kBecameReady, kBecameUnready };
  // Records one probe's outcome, finished at `now`, and schedules the next probe from `now`.
  Change OnResult(bool success, SystemTime now);

  bool ready() const { return ready_; }
  SystemTime next_at() const { return next_at_; }

 private:
  std::chrono::milliseconds first_interval_;
  std::chrono::milliseconds period_{10000};
  int success_threshold_ = 1;
  int failure_threshold_ = 3;

  SystemTime next_at_{};
  std::chrono::milliseconds fast_interval_{0};
  bool ready_ = false;
  bool ever_ready_ = false;
  int successes_ = 0;
  int failures_ = 0;
};

}  // namespace asb::node
