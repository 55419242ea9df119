#include "sys/besteffort_governor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"

namespace asb::sys {

BestEffortGovernor::BestEffortGovernor(const BestEffortGovernorOptions& options)
    : options_(options) {
  v2_ = CgroupIsV2(options_.cgroup.mount_root);
  const std::string rel = BestEffortParent(options_.cgroup);
  if (v2_) {
    usage_file_ = options_.cgroup.mount_root + rel + "/cpu.stat";
    idle_file_ = options_.cgroup.mount_root + rel + "/cpu.idle";
  } else {
    // cpuacct counts the subtree; where it is co-mounted with cpu both names reach it.
    usage_file_ = options_.cgroup.mount_root + "/cpuacct" + rel + "/cpuacct.usage";
    idle_file_ = options_.cgroup.mount_root + "/cpu" + rel + "/cpu.idle";
  }
}

Result<std::unique_ptr<BestEffortGovernor>> BestEffortGovernor::Start(
    const BestEffortGovernorOptions& options) {
  ASB_RETURN_IF_ERROR(EnsureBestEffortParent(options.cgroup));
  std::unique_ptr<BestEffortGovernor> g(new BestEffortGovernor(options));
  if (!g->v2_) (void)MakeDirs(g->usage_file_.substr(0, g->usage_file_.rfind('/')));
  g->SetIdle(false);
  g->thread_ = std::thread([p = g.get()] { p->Loop(); });
  return g;
}

BestEffortGovernor::~BestEffortGovernor() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BestEffortGovernor::idle() const {
  std::lock_guard l(mu_);
  return idle_;
}

std::chrono::nanoseconds BestEffortGovernor::Usage() const {
  auto text = ReadFile(usage_file_);
  if (!text) return std::chrono::nanoseconds(0);
  if (!v2_) return std::chrono::nanoseconds(ParseInt(Trim(*text)).value_or(0));
  for (const std::string& line : Split(*text, '\n')) {
    std::vector<std::string> kv = Split(line, ' ');
    if (kv.size() == 2 && kv[0] == "usage_usec") {
      return std::chrono::microseconds(ParseInt(kv[1]).value_or(0));
    }
  }
  return std::chrono::nanoseconds(0);
}

void BestEffortGovernor::SetIdle(bool idle) {
  UniqueFd fd(::open(idle_file_.c_str(), O_WRONLY | O_CLOEXEC));
  const char* v = idle ? "1" : "0";
  if (!fd || ::write(fd.get(), v, 1) != 1) {
    ASB_LOG(WARN, "cannot set BestEffort cpu.idle", "error",
            ErrnoError(errno, "write " + std::string(v) + " to " + idle_file_).message);
    return;
  }
  std::lock_guard l(mu_);
  idle_ = idle;
}

void BestEffortGovernor::Loop() {
  using Clock = std::chrono::steady_clock;
  auto last_time = Clock::now();
  auto last_usage = Usage();
  std::unique_lock l(mu_);
  while (!cv_.wait_for(l, options_.period, [&] { return stop_; })) {
    const bool was_idle = idle_;
    l.unlock();
    auto now = Clock::now();
    auto usage = Usage();
    double cores = std::chrono::duration<double>(usage - last_usage).count() /
                   std::max(1e-6, std::chrono::duration<double>(now - last_time).count());
    last_time = now;
    last_usage = usage;
    if (!was_idle && cores >= options_.on_cores) SetIdle(true);
    if (was_idle && cores < options_.off_cores) SetIdle(false);
    l.lock();
  }
}

}  // namespace asb::sys
