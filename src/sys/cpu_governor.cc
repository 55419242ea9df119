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

double LongLivedCores(const ThreadTimes& before, const ThreadTimes& after, double seconds) {
  uint64_t ns = 0;
  for (const auto& [tid, now] : after) {
    auto it = before.find(tid);
    // A reused tid reads less than before: a new thread, not counted.
    if (it != before.end() && now >= it->second) ns += now - it->second;
  }
  return static_cast<double>(ns) / 1e9 / seconds;
}

namespace {

// Appends the CPU time of every thread in `dir` and its descendant groups (runsc may nest
// one per container); false past kMaxSampledThreads.
bool AddThreadTimes(const std::string& dir, const char* threads_file, int depth, ThreadTimes& out) {
  auto list = ReadFile(dir + "/" + threads_file);
  if (!list) return true;  // removed meanwhile: nothing of it to count
  for (const std::string& line : Split(*list, '\n')) {
    auto tid = ParseInt(line);
    if (!tid) continue;
    if (out.size() >= kMaxSampledThreads) return false;
    auto stat = ReadFile("/proc/" + line + "/schedstat");
    if (!stat) continue;  // exited since the listing
    auto fields = Split(*stat, ' ');
    if (auto ns = fields.empty() ? std::nullopt : ParseInt(fields[0])) {
      out[static_cast<pid_t>(*tid)] = static_cast<uint64_t>(*ns);
    }
  }
  if (depth == 0) return true;
  if (DIR* d = ::opendir(dir.c_str())) {
    bool ok = true;
    while (const dirent* e = ::readdir(d)) {
      if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
      if (!AddThreadTimes(dir + "/" + e->d_name, threads_file, depth - 1, out)) {
        ok = false;
        break;
      }
    }
    ::closedir(d);
    return ok;
  }
  return true;
}

}  // namespace

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

bool CpuGovernor::burstable_held(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = burstable_held_.find(name);
  return it != burstable_held_.end() && it->second;
}

uint64_t CpuGovernor::periods() const {
  std::lock_guard l(mu_);
  return periods_;
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
  g.cpu_dir = cpu_root_ + rel;
  g.idle_file = g.cpu_dir + "/cpu.idle";
  g.weight_file = cpu_root_ + rel + (v2_ ? "/cpu.weight" : "/cpu.shares");
  // A restarted asbd goes on from what the last one decided.
  g.idle = Trim(ReadFile(g.idle_file).value_or("0")) == "1";
  if (thresholds) {
    g.thresholds = *thresholds;
  } else if (!g.idle) {
    auto t = ReadThresholds(g);
    if (!t) return std::nullopt;
    g.thresholds = *t;
  }
  // (An idle-class group's weight reads as the idle weight, 3, not its request's: its
  // thresholds are read once it is normal again, see StillHeld.)
  // A Burstable group idle-class before this governor decided anything is held: a pool member
  // (or a sandbox a previous asbd made idle, which the node makes normal at its first sync).
  if (!thresholds && g.idle) {
    g.held = UniqueFd(::open(g.idle_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!g.held) return std::nullopt;
  }
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
  // A Burstable group removed since the listing (kNotFound): the next period forgets it.
  if (Status s = WriteCgroupFile(g.idle_file, idle ? "1" : "0"); !s) {
    if (s.error().code != Code::kNotFound) {
      ASB_LOG(WARN, "cannot set cpu.idle", "error", s.error().message);
    }
    return false;
  }
  g.idle = idle;
  // Normal again, the kernel has reset the group's weight to its default (1024 / 100): its
  // request's goes back, or a Burstable sandbox that once burst would compete at four times
  // its share from then on (and a restarted asbd would read that as its request).
  if (!idle && !g.weight.empty()) {
    if (Status s = WriteCgroupFile(g.weight_file, g.weight);
        !s && s.error().code != Code::kNotFound) {
      ASB_LOG(WARN, "cannot restore the cpu weight", "error", s.error().message);
    }
  }
  return true;
}

std::optional<IdleThresholds> CpuGovernor::ReadThresholds(Group& g) const {
  // The request is what Create (or runsc, from the OCI spec) wrote as the group's weight.
  auto weight = ReadFile(g.weight_file);
  auto value = weight ? ParseInt(Trim(*weight)) : std::nullopt;
  if (!value) return std::nullopt;
  g.weight = std::to_string(*value);
  return BurstableThresholds(v2_ ? CpuRequestForWeight(*value) : CpuRequestForShares(*value));
}

bool CpuGovernor::LongLivedBurst(Group& g, double seconds) const {
  ThreadTimes now;
  if (!AddThreadTimes(g.cpu_dir, v2_ ? "cgroup.threads" : "tasks", 3, now)) {
    g.threads.reset();
    return true;  // too many threads to sample: its usage decides
  }
  const bool burst = g.threads && LongLivedCores(*g.threads, now, seconds) >= g.thresholds.on_cores;
  // Idle-class from here on, the group needs no sample until it is normal and over the mark.
  if (burst) {
    g.threads.reset();
  } else {
    g.threads = std::move(now);
  }
  return burst;
}

bool CpuGovernor::StillHeld(Group& g) const {
  char c = 0;
  if (::pread(g.held.get(), &c, 1, 0) == 1 && c == '1') return true;
  // Its weight is its request's again once whoever made it normal wrote it back (the kernel
  // resets it to the default first): read at the next period.
  g.held.Reset();
  g.idle = false;
  g.thresholds_due = true;
  return false;
}

void CpuGovernor::Step(double seconds) {
  auto decide = [&](Group& g) {
    // Held: only whether it is still idle-class. Made normal since: its usage from here on
    // (the next period's reading is against this one) decides, not the boot it was held for.
    const bool released = g.held && !StillHeld(g);
    if (g.held) return true;
    if (g.thresholds_due) {
      auto t = ReadThresholds(g);
      if (!t) return false;
      g.thresholds = *t;
      g.thresholds_due = false;
    }
    auto usage = Usage(g);
    if (!usage) return false;
    if (released) {
      g.last_usage = *usage;
      return true;
    }
    const double cores = std::chrono::duration<double>(*usage - g.last_usage).count() / seconds;
    g.last_usage = *usage;
    bool next = NextIdle(g.idle, cores, g.thresholds);
    // A Burstable group's burst counts only when its long-lived threads make it (see the
    // header); all BestEffort sandboxes together, however many, are judged by usage alone.
    if (&g != &best_effort_ && !g.idle && next) {
      next = LongLivedBurst(g, seconds);
    } else {
      g.threads.reset();
    }
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

  std::map<std::string, bool> published, held;
  for (const auto& [name, g] : burstable_) {
    published.emplace(name, g.idle);
    held.emplace(name, g.held.valid());
  }
  std::lock_guard l(mu_);
  best_effort_idle_ = best_effort_.idle;
  burstable_idle_ = std::move(published);
  burstable_held_ = std::move(held);
  ++periods_;
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
