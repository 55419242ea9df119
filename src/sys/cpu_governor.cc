#include "sys/cpu_governor.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "base/log.h"
#include "base/strings.h"

namespace asb::sys {

bool NextIdle(bool idle, double cores, const IdleThresholds& thresholds) {
  return idle ? cores >= thresholds.off_cores : cores >= thresholds.on_cores;
}

IdleThresholds BurstableThresholds(int64_t request_millis) {
  const double request = static_cast<double>(request_millis) / 1000;
  return {.on_cores = 1.5 * request + 0.1, .off_cores = request};
}

CpuGovernor::CpuGovernor(const CpuGovernorOptions& options) : options_(options) {
  v2_ = CgroupIsV2(options_.cgroup.mount_root);
  cpu_root_ = options_.cgroup.mount_root + (v2_ ? "" : "/cpu");
  // cpuacct counts a group's CPU time on v1; where it is co-mounted with cpu both names reach it.
  cpuacct_root_ = options_.cgroup.mount_root + (v2_ ? "" : "/cpuacct");
  burstable_dir_ = cpu_root_ + ParentsParent(options_.cgroup);
  burstable_prefix_ = BurstablePrefix(options_.cgroup);
}

Result<std::unique_ptr<CpuGovernor>> CpuGovernor::Start(const CpuGovernorOptions& options) {
  ASB_RETURN_IF_ERROR(EnsureBestEffortParent(options.cgroup));
  std::unique_ptr<CpuGovernor> g(new CpuGovernor(options));
  const std::string rel = BestEffortParent(options.cgroup);
  // On v1 with a separate cpuacct hierarchy the subtree's counter needs its own directory.
  if (!g->v2_) (void)MakeDirs(g->cpuacct_root_ + rel);
  auto be = g->OpenGroup(rel, &kBestEffortThresholds);
  if (!be) return MakeError(Code::kInternal, "cannot open the CPU usage of " + rel);
  g->best_effort_ = std::move(*be);
  if (!g->SetIdle(g->best_effort_, false)) {
    return MakeError(Code::kInternal, "cannot write " + g->best_effort_.idle_file);
  }
  g->thread_ = std::thread([p = g.get()] { p->Loop(); });
  return g;
}

CpuGovernor::~CpuGovernor() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool CpuGovernor::best_effort_idle() const {
  std::lock_guard l(mu_);
  return best_effort_idle_;
}

bool CpuGovernor::burstable_idle(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = burstable_idle_.find(name);
  return it != burstable_idle_.end() && it->second;
}

size_t CpuGovernor::burstable_groups() const {
  std::lock_guard l(mu_);
  return burstable_idle_.size();
}

std::optional<CpuGovernor::Group> CpuGovernor::OpenGroup(const std::string& rel,
                                                         const IdleThresholds* thresholds) const {
  Group g;
  const std::string usage_file =
      v2_ ? cpu_root_ + rel + "/cpu.stat" : cpuacct_root_ + rel + "/cpuacct.usage";
  g.usage = UniqueFd(::open(usage_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!g.usage) return std::nullopt;
  g.idle_file = cpu_root_ + rel + "/cpu.idle";
  if (thresholds) {
    g.thresholds = *thresholds;
  } else {
    // The request is what Create (or runsc, from the OCI spec) wrote as the group's weight.
    auto weight = ReadFile(cpu_root_ + rel + (v2_ ? "/cpu.weight" : "/cpu.shares"));
    auto value = weight ? ParseInt(Trim(*weight)) : std::nullopt;
    if (!value) return std::nullopt;
    g.thresholds =
        BurstableThresholds(v2_ ? CpuRequestForWeight(*value) : CpuRequestForShares(*value));
  }
  // A restarted asbd goes on from what the last one decided.
  g.idle = Trim(ReadFile(g.idle_file).value_or("0")) == "1";
  auto usage = Usage(g);
  if (!usage) return std::nullopt;
  g.last_usage = *usage;
  return g;
}

std::optional<std::chrono::nanoseconds> CpuGovernor::Usage(const Group& g) const {
  // cgroupfs regenerates the file for each read from offset 0, so the fd stays open.
  char buf[512];
  ssize_t n = ::pread(g.usage.get(), buf, sizeof(buf) - 1, 0);
  if (n <= 0) return std::nullopt;
  std::string_view text(buf, static_cast<size_t>(n));
  if (!v2_) {
    auto v = ParseInt(Trim(text));
    if (!v) return std::nullopt;
    return std::chrono::nanoseconds(*v);
  }
  for (const std::string& line : Split(text, '\n')) {
    std::vector<std::string> kv = Split(line, ' ');
    if (kv.size() == 2 && kv[0] == "usage_usec") {
      if (auto v = ParseInt(kv[1])) return std::chrono::microseconds(*v);
    }
  }
  return std::nullopt;
}

bool CpuGovernor::SetIdle(Group& g, bool idle) {
  UniqueFd fd(::open(g.idle_file.c_str(), O_WRONLY | O_CLOEXEC));
  const char* v = idle ? "1" : "0";
  if (!fd || ::write(fd.get(), v, 1) != 1) {
    // A Burstable group removed since the listing: the next period forgets it.
    if (errno != ENOENT && errno != ENODEV) {
      ASB_LOG(WARN, "cannot set cpu.idle", "error",
              ErrnoError(errno, "write " + std::string(v) + " to " + g.idle_file).message);
    }
    return false;
  }
  g.idle = idle;
  return true;
}

void CpuGovernor::Step(double seconds) {
  auto decide = [&](Group& g) {
    auto usage = Usage(g);
    if (!usage) return false;
    const double cores = std::chrono::duration<double>(*usage - g.last_usage).count() / seconds;
    g.last_usage = *usage;
    const bool next = NextIdle(g.idle, cores, g.thresholds);
    if (next != g.idle) (void)SetIdle(g, next);
    return true;
  };
  (void)decide(best_effort_);

  // The Burstable groups now present: new ones are opened (their first reading is the
  // baseline), gone ones forgotten.
  std::map<std::string, Group> seen;
  if (DIR* dir = ::opendir(burstable_dir_.c_str())) {
    while (const dirent* e = ::readdir(dir)) {
      std::string_view name(e->d_name);
      if (e->d_type != DT_DIR || !name.starts_with(burstable_prefix_)) continue;
      auto it = burstable_.find(std::string(name));
      if (it != burstable_.end()) {
        if (decide(it->second)) seen.insert(burstable_.extract(it));
        continue;
      }
      const std::string rel = ParentsParent(options_.cgroup) + "/" + std::string(name);
      if (auto g = OpenGroup(rel, nullptr)) seen.emplace(std::string(name), std::move(*g));
    }
    ::closedir(dir);
  }
  burstable_ = std::move(seen);

  std::map<std::string, bool> published;
  for (const auto& [name, g] : burstable_) published.emplace(name, g.idle);
  std::lock_guard l(mu_);
  best_effort_idle_ = best_effort_.idle;
  burstable_idle_ = std::move(published);
}

void CpuGovernor::Loop() {
  using Clock = std::chrono::steady_clock;
  auto last = Clock::now();
  std::unique_lock l(mu_);
  while (!cv_.wait_for(l, options_.period, [&] { return stop_; })) {
    l.unlock();
    auto now = Clock::now();
    Step(std::max(1e-6, std::chrono::duration<double>(now - last).count()));
    last = now;
    l.lock();
  }
}

}  // namespace asb::sys
