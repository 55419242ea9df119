// Decides, every period, whether BestEffort sandboxes yield to everything else on the host
// (docs/cpu.md): cpu.idle on BestEffortParent is 1 while they together keep the CPU busy (at
// least `on_cores` over a period) and back to 0 once they use less than `off_cores`. Idle, a
// spinning BestEffort sandbox cannot delay any wakeup of asbd, its clients or a neighbour with a
// cpu request; not idle, a light one (an exec now and then) keeps its fair share even while host
// work is busy, instead of starving behind it as a permanently idle group does.
//
// Syscalls: read of cpuacct.usage / cpu.stat, write of cpu.idle; one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "base/result.h"
#include "sys/cgroup.h"

namespace asb::sys {

struct BestEffortGovernorOptions {
  CgroupConfig cgroup;
  std::chrono::milliseconds period{100};
  double on_cores = 0.25;  // idle once BestEffort used this many cores over a period
  double off_cores = 0.1;  // and not idle again below this
};

class BestEffortGovernor {
 public:
  // Makes BestEffortParent (EnsureBestEffortParent) with cpu.idle 0 and starts the thread.
  [[nodiscard]] static Result<std::unique_ptr<BestEffortGovernor>> Start(
      const BestEffortGovernorOptions& options);
  ~BestEffortGovernor();  // stops the thread; cpu.idle stays as it was last written
  BestEffortGovernor(const BestEffortGovernor&) = delete;
  BestEffortGovernor& operator=(const BestEffortGovernor&) = delete;

  bool idle() const;

 private:
  explicit BestEffortGovernor(const BestEffortGovernorOptions& options);
  void Loop();
  std::chrono::nanoseconds Usage() const;  // of the whole BestEffort subtree; 0 if unreadable
  void SetIdle(bool idle);

  const BestEffortGovernorOptions options_;
  std::string usage_file_, idle_file_;
  bool v2_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool idle_ = false;
  std::thread thread_;
};

}  // namespace asb::sys
