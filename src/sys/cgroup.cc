#include "sys/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "base/file_util.h"
#include "base/strings.h"
#include "base/unique_fd.h"

namespace asb::sys {

Status WriteCgroupFile(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoUnexpected("open " + path);
  if (::write(fd.get(), value.data(), value.size()) < 0) {
    const int err = errno;
    Error e = ErrnoError(err, "write " + value + " to " + path);
    if (err == EINVAL || err == EBUSY) e.code = Code::kResourceExhausted;
    if (err == ENODEV) e.code = Code::kNotFound;  // the group was removed after the open
    return tl::unexpected(e);
  }
  return {};
}

namespace {

std::string ParentFor(const CgroupConfig& config) {
  if (config.parent.empty()) return "/asb";
  return config.parent[0] == '/' ? config.parent : "/" + config.parent;
}

int64_t ReadKeyed(const std::string& path, std::string_view key) {
  auto text = ReadFile(path);
  if (!text) return 0;
  for (const std::string& line : Split(*text, '\n')) {
    std::vector<std::string> kv = Split(line, ' ');
    if (kv.size() == 2 && kv[0] == key) return ParseInt(kv[1]).value_or(0);
  }
  return 0;
}

}  // namespace

int64_t CpuSharesFor(int64_t request_millis) {
  return std::clamp<int64_t>(request_millis * 1024 / 1000, 2, 262144);
}

int64_t CpuWeightFor(int64_t request_millis) {
  return 1 + (CpuSharesFor(request_millis) - 2) * 9999 / 262142;
}

int64_t CpuRequestForShares(int64_t shares) { return shares * 1000 / 1024; }

int64_t CpuRequestForWeight(int64_t weight) {
  return CpuRequestForShares(2 + (weight - 1) * 262142 / 9999);
}

bool CgroupIsV2(const std::string& mount_root) {
  return PathExists(mount_root + "/cgroup.controllers");
}

std::string BestEffortParent(const CgroupConfig& config) {
  return ParentFor(config) + "-besteffort";
}

std::string ParentsParent(const CgroupConfig& config) {
  const std::string parent = ParentFor(config);
  return parent.substr(0, parent.rfind('/'));
}

std::string BurstablePrefix(const CgroupConfig& config) {
  const std::string parent = ParentFor(config);
  return parent.substr(parent.rfind('/') + 1) + "-burstable-";
}

CpuPlacement CpuPlacementFor(int64_t cpu_limit_millis, int64_t cpu_request_millis) {
  if (cpu_limit_millis > 0) return CpuPlacement::kParent;
  return cpu_request_millis > 0 ? CpuPlacement::kBurstable : CpuPlacement::kBestEffort;
}

std::string CgroupPath(const CgroupConfig& config, const std::string& name,
                       CpuPlacement placement) {
  switch (placement) {
    case CpuPlacement::kBurstable:
      return ParentsParent(config) + "/" + BurstablePrefix(config) + name;
    case CpuPlacement::kBestEffort:
      return BestEffortParent(config) + "/" + name;
    case CpuPlacement::kParent:
      break;
  }
  return ParentFor(config) + "/" + name;
}

namespace {

// On v2, children of the parent's parent may only use the controllers once they are enabled
// there (Create enables them along the parent's own path, which ends below it).
Status EnableControllersInParentsParent(const CgroupConfig& config) {
  const std::string up = config.mount_root + ParentsParent(config);
  if (!PathExists(up + "/cgroup.subtree_control")) return {};
  return WriteCgroupFile(up + "/cgroup.subtree_control", "+memory +cpu +pids");
}

}  // namespace

Status EnsureBestEffortParent(const CgroupConfig& config) {
  const bool v2 = CgroupIsV2(config.mount_root);
  const std::string dir = config.mount_root + (v2 ? "" : "/cpu") + BestEffortParent(config);
  if (v2) ASB_RETURN_IF_ERROR(EnableControllersInParentsParent(config));
  ASB_RETURN_IF_ERROR(MakeDirs(dir));
  if (v2)
    ASB_RETURN_IF_ERROR(WriteCgroupFile(dir + "/cgroup.subtree_control", "+memory +cpu +pids"));
  if (!PathExists(dir + "/cpu.idle")) {
    return MakeError(Code::kUnimplemented, "no cpu.idle in " + dir + " (needs Linux 5.15+)");
  }
  return {};
}

Status PrepareCpuPlacement(const CgroupConfig& config, CpuPlacement placement) {
  switch (placement) {
    case CpuPlacement::kBestEffort:
      return EnsureBestEffortParent(config);
    case CpuPlacement::kBurstable:
      if (CgroupIsV2(config.mount_root)) return EnableControllersInParentsParent(config);
      return {};
    case CpuPlacement::kParent:
      break;
  }
  return {};
}

namespace {

// Nothing to write (or to undo) where the kernel has no cpu.idle (before 5.15).
Status WriteCpuIdle(const std::string& cpu_dir, bool idle) {
  const std::string file = cpu_dir + "/cpu.idle";
  if (!PathExists(file)) return {};
  return WriteCgroupFile(file, idle ? "1" : "0");
}

// The share a cpu request stands for (cpu.shares on v1, cpu.weight on v2).
Status WriteCpuShare(const std::string& cpu_dir, bool v2, int64_t request_millis) {
  if (v2)
    return WriteCgroupFile(cpu_dir + "/cpu.weight", std::to_string(CpuWeightFor(request_millis)));
  return WriteCgroupFile(cpu_dir + "/cpu.shares", std::to_string(CpuSharesFor(request_millis)));
}

// A v1 cpu directory's quota, shares and idle-class, as Create writes them.
Status WriteV1Cpu(const std::string& cpu_dir, const CgroupLimits& limits) {
  if (limits.cpu_millis > 0) {
    ASB_RETURN_IF_ERROR(WriteCgroupFile(cpu_dir + "/cpu.cfs_period_us", "100000"));
    ASB_RETURN_IF_ERROR(
        WriteCgroupFile(cpu_dir + "/cpu.cfs_quota_us", std::to_string(limits.cpu_millis * 100)));
  }
  if (limits.cpu_request_millis > 0) {
    ASB_RETURN_IF_ERROR(WriteCgroupFile(cpu_dir + "/cpu.shares",
                                        std::to_string(CpuSharesFor(limits.cpu_request_millis))));
  }
  return limits.cpu_idle ? WriteCpuIdle(cpu_dir, true) : Status{};
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

constexpr CpuPlacement kPlacements[] = {CpuPlacement::kParent, CpuPlacement::kBurstable,
                                        CpuPlacement::kBestEffort};

}  // namespace

Result<Cgroup> Cgroup::Open(const CgroupConfig& config, const std::string& name) {
  if (!ValidName(name))
    return MakeError(Code::kInvalidArgument, "bad cgroup name \"" + name + "\"");
  // Create put the group in one of the placements; the memory hierarchy (v1) or the unified
  // one (v2) says which.
  const bool v2 = CgroupIsV2(config.mount_root);
  for (CpuPlacement p : {CpuPlacement::kBestEffort, CpuPlacement::kBurstable}) {
    const std::string path = CgroupPath(config, name, p);
    if (PathExists(config.mount_root + (v2 ? "" : "/memory") + path)) return OpenAt(config, path);
  }
  return OpenAt(config, CgroupPath(config, name, CpuPlacement::kParent));
}

Result<Cgroup> Cgroup::OpenAt(const CgroupConfig& config, const std::string& path) {
  Cgroup cg;
  cg.v2_ = CgroupIsV2(config.mount_root);
  if (cg.v2_) {
    std::string dir = config.mount_root + path;
    cg.dirs_ = {dir};
    cg.memory_dir_ = cg.cpu_dir_ = cg.pids_dir_ = cg.freezer_dir_ = dir;
    return cg;
  }
  auto dir_for = [&](const std::string& controller) {
    return config.mount_root + "/" + controller + path;
  };
  cg.memory_dir_ = dir_for("memory");
  cg.cpu_dir_ = dir_for("cpu");
  cg.pids_dir_ = dir_for("pids");
  for (const auto* d : {&cg.memory_dir_, &cg.cpu_dir_, &cg.pids_dir_}) {
    std::string root = d->substr(0, d->find('/', config.mount_root.size() + 1));
    if (!PathExists(root)) {
      return MakeError(Code::kFailedPrecondition, "cgroup v1 controller not mounted: " + root);
    }
    cg.dirs_.push_back(*d);
  }
  // cpuacct is where v1 counts the group's CPU time. Where it is co-mounted with cpu
  // ("cpu,cpuacct", both names symlinks) the cpu directory already is that group.
  std::error_code ec;
  if (PathExists(config.mount_root + "/cpuacct") &&
      std::filesystem::canonical(config.mount_root + "/cpuacct", ec) !=
          std::filesystem::canonical(config.mount_root + "/cpu", ec)) {
    cg.cpuacct_dir_ = dir_for("cpuacct");
    cg.dirs_.push_back(cg.cpuacct_dir_);
  }
  // The freezer only makes KillAll race-free; without it KillAll loops until the group is empty.
  if (PathExists(config.mount_root + "/freezer")) {
    cg.freezer_dir_ = dir_for("freezer");
    cg.dirs_.push_back(cg.freezer_dir_);
  }
  return cg;
}

Result<Cgroup> Cgroup::OpenAllHierarchies(const CgroupConfig& config, const std::string& name) {
  ASB_ASSIGN_OR_RETURN(Cgroup cg, Open(config, name));
  if (cg.v2_) return cg;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config.mount_root, ec)) {
    // cpu,cpuacct-style names are symlinks to a hierarchy listed under its own name.
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    // A runtime killed half-way may have left the group in one hierarchy and not another;
    // every placement's place is looked at (Remove skips what is not there).
    for (CpuPlacement p : kPlacements) {
      std::string dir = entry.path().string() + CgroupPath(config, name, p);
      if (p != CpuPlacement::kParent && !PathExists(dir)) continue;
      if (std::find(cg.dirs_.begin(), cg.dirs_.end(), dir) == cg.dirs_.end()) {
        cg.dirs_.push_back(dir);
      }
    }
  }
  return cg;
}

Result<Cgroup> Cgroup::Create(const CgroupConfig& config, const std::string& name,
                              const CgroupLimits& limits) {
  if (!ValidName(name))
    return MakeError(Code::kInvalidArgument, "bad cgroup name \"" + name + "\"");
  Status prepared = PrepareCpuPlacement(config, limits.cpu_placement);
  if (!prepared) return tl::unexpected(prepared.error().Wrap("cgroup " + name));
  ASB_ASSIGN_OR_RETURN(Cgroup cg, OpenAt(config, CgroupPath(config, name, limits.cpu_placement)));
  // Open looks in every placement: a group of the same name in any of them is this one too.
  for (CpuPlacement p : kPlacements) {
    ASB_ASSIGN_OR_RETURN(Cgroup other, OpenAt(config, CgroupPath(config, name, p)));
    for (const std::string& dir : other.dirs_) {
      if (PathExists(dir)) return MakeError(Code::kAlreadyExists, "cgroup exists: " + dir);
    }
  }
  Status made = [&]() -> Status {
    if (cg.v2_) {
      // Enable the controllers for children along the path (no-internal-process rule: this
      // fails with EBUSY when the parent holds processes; then configure CgroupConfig::parent).
      std::string parent = cg.dirs_[0].substr(0, cg.dirs_[0].rfind('/'));
      ASB_RETURN_IF_ERROR(MakeDirs(parent));
      std::string walk = config.mount_root;
      std::string rel = parent.substr(config.mount_root.size());
      for (const std::string& part : Split(rel, '/')) {
        if (part.empty()) continue;
        Status s = WriteCgroupFile(walk + "/cgroup.subtree_control", "+memory +cpu +pids");
        if (!s) return tl::unexpected(s.error().Wrap("enable cgroup v2 controllers"));
        walk += "/" + part;
      }
      ASB_RETURN_IF_ERROR(
          WriteCgroupFile(parent + "/cgroup.subtree_control", "+memory +cpu +pids"));
    }
    for (const std::string& dir : cg.dirs_) {
      ASB_RETURN_IF_ERROR(MakeDirs(dir.substr(0, dir.rfind('/'))));
      if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoUnexpected("mkdir " + dir);
    }
    if (cg.v2_) {
      const std::string& d = cg.dirs_[0];
      if (limits.memory_bytes > 0) {
        ASB_RETURN_IF_ERROR(
            WriteCgroupFile(d + "/memory.max", std::to_string(limits.memory_bytes)));
        if (PathExists(d + "/memory.swap.max")) {
          ASB_RETURN_IF_ERROR(WriteCgroupFile(d + "/memory.swap.max", "0"));
        }
      }
      if (limits.cpu_millis > 0) {
        ASB_RETURN_IF_ERROR(
            WriteCgroupFile(d + "/cpu.max", std::to_string(limits.cpu_millis * 100) + " 100000"));
      }
      if (limits.cpu_request_millis > 0) {
        ASB_RETURN_IF_ERROR(WriteCgroupFile(
            d + "/cpu.weight", std::to_string(CpuWeightFor(limits.cpu_request_millis))));
      }
      if (limits.cpu_idle) ASB_RETURN_IF_ERROR(WriteCpuIdle(d, true));
      if (limits.pids > 0) {
        ASB_RETURN_IF_ERROR(WriteCgroupFile(d + "/pids.max", std::to_string(limits.pids)));
      }
      return {};
    }
    if (limits.memory_bytes > 0) {
      std::string v = std::to_string(limits.memory_bytes);
      ASB_RETURN_IF_ERROR(WriteCgroupFile(cg.memory_dir_ + "/memory.limit_in_bytes", v));
      // memsw (memory+swap) must be >= the memory limit, so it is written second.
      if (PathExists(cg.memory_dir_ + "/memory.memsw.limit_in_bytes")) {
        ASB_RETURN_IF_ERROR(WriteCgroupFile(cg.memory_dir_ + "/memory.memsw.limit_in_bytes", v));
      }
    }
    ASB_RETURN_IF_ERROR(WriteV1Cpu(cg.cpu_dir_, limits));
    if (limits.pids > 0) {
      ASB_RETURN_IF_ERROR(WriteCgroupFile(cg.pids_dir_ + "/pids.max", std::to_string(limits.pids)));
    }
    return {};
  }();
  if (!made) {
    (void)cg.Remove(std::chrono::milliseconds(500));
    return tl::unexpected(made.error().Wrap("cgroup " + name));
  }
  return cg;
}

Result<std::string> CreateCpuGroup(const CgroupConfig& config, const std::string& name,
                                   const CgroupLimits& limits) {
  if (!ValidName(name))
    return MakeError(Code::kInvalidArgument, "bad cgroup name \"" + name + "\"");
  if (CgroupIsV2(config.mount_root)) {
    return MakeError(Code::kUnimplemented, "cgroup v2: one directory holds every controller");
  }
  ASB_RETURN_IF_ERROR(PrepareCpuPlacement(config, limits.cpu_placement));
  const std::string path = CgroupPath(config, name, limits.cpu_placement);
  const std::string cpu_dir = config.mount_root + "/cpu" + path;
  // cpuacct counts the group's time (the governor reads it); where it is co-mounted with cpu
  // ("cpu,cpuacct") both names are this one directory.
  std::vector<std::string> dirs = {cpu_dir};
  std::error_code ec;
  if (PathExists(config.mount_root + "/cpuacct") &&
      std::filesystem::canonical(config.mount_root + "/cpuacct", ec) !=
          std::filesystem::canonical(config.mount_root + "/cpu", ec)) {
    dirs.push_back(config.mount_root + "/cpuacct" + path);
  }
  for (size_t i = 0; i < dirs.size(); ++i) {
    Status made = MakeDirs(dirs[i].substr(0, dirs[i].rfind('/')));
    if (made && ::mkdir(dirs[i].c_str(), 0755) != 0) {
      made = errno == EEXIST ? MakeError(Code::kAlreadyExists, "cgroup exists: " + dirs[i])
                             : ErrnoUnexpected("mkdir " + dirs[i]);
    }
    if (!made) {
      for (size_t j = 0; j < i; ++j) (void)::rmdir(dirs[j].c_str());
      return tl::unexpected(made.error().Wrap("cgroup " + name));
    }
  }
  if (Status s = WriteV1Cpu(cpu_dir, limits); !s) {
    for (const std::string& d : dirs) (void)::rmdir(d.c_str());
    return tl::unexpected(s.error().Wrap("cgroup " + name));
  }
  return cpu_dir + "/cgroup.procs";
}

Status MoveToCgroup(const std::string& procs_file, pid_t pid) {
  return WriteCgroupFile(procs_file, std::to_string(pid));
}

Status Cgroup::SetCpuIdle(bool idle, int64_t cpu_request_millis) const {
  if (!PathExists(cpu_dir_)) return MakeError(Code::kNotFound, "no cgroup " + cpu_dir_);
  ASB_RETURN_IF_ERROR(WriteCpuIdle(cpu_dir_, idle));
  // Idle-class, the weight reads as 3 and cannot be written (EINVAL); normal again, it is the
  // kernel's default until written.
  if (idle || cpu_request_millis <= 0) return {};
  return WriteCpuShare(cpu_dir_, v2_, cpu_request_millis);
}

std::vector<std::string> Cgroup::ProcsFiles() const {
  std::vector<std::string> out;
  for (const std::string& d : dirs_) out.push_back(d + "/cgroup.procs");
  return out;
}

Result<std::chrono::nanoseconds> Cgroup::CpuUsage() const {
  if (v2_) {
    auto text = ReadFile(cpu_dir_ + "/cpu.stat");
    if (!text) return tl::unexpected(text.error());
    return std::chrono::microseconds(ReadKeyed(cpu_dir_ + "/cpu.stat", "usage_usec"));
  }
  const std::string file = (cpuacct_dir_.empty() ? cpu_dir_ : cpuacct_dir_) + "/cpuacct.usage";
  auto text = ReadFile(file);
  if (!text) return tl::unexpected(text.error());
  auto v = ParseInt(Trim(*text));
  if (!v) return MakeError(Code::kInternal, "unparsable " + file + ": " + *text);
  return std::chrono::nanoseconds(*v);
}

Result<std::vector<pid_t>> Cgroup::Pids() const {
  auto text = ReadFile(pids_dir_ + "/cgroup.procs");
  if (!text) return tl::unexpected(text.error());
  std::vector<pid_t> out;
  for (const std::string& line : Split(*text, '\n')) {
    if (auto v = ParseInt(line)) out.push_back(static_cast<pid_t>(*v));
  }
  return out;
}

bool Cgroup::OomKilled() const {
  if (v2_) return ReadKeyed(memory_dir_ + "/memory.events", "oom_kill") > 0;
  return ReadKeyed(memory_dir_ + "/memory.oom_control", "oom_kill") > 0;
}

Result<UniqueFd> Cgroup::OomEventfd() const {
  if (v2_) return MakeError(Code::kUnimplemented, "cgroup v2 has no OOM eventfd");
  UniqueFd ctl(::open((memory_dir_ + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ctl) return ErrnoUnexpected("open " + memory_dir_ + "/memory.oom_control");
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) return ErrnoUnexpected("eventfd");
  // The registration lives until the eventfd is closed; the control fd may go at once.
  ASB_RETURN_IF_ERROR(WriteCgroupFile(memory_dir_ + "/cgroup.event_control",
                                      std::to_string(efd.get()) + " " + std::to_string(ctl.get())));
  return efd;
}

Status Cgroup::KillAll(std::chrono::milliseconds timeout) {
  if (!PathExists(pids_dir_)) return {};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool used_kill_file = false;
  if (v2_ && PathExists(dirs_[0] + "/cgroup.kill")) {
    used_kill_file = WriteCgroupFile(dirs_[0] + "/cgroup.kill", "1").has_value();
  }
  bool freezer = !v2_ && !freezer_dir_.empty() && PathExists(freezer_dir_ + "/freezer.state");
  while (true) {
    ASB_ASSIGN_OR_RETURN(std::vector<pid_t> pids, Pids());
    if (pids.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return MakeError(Code::kDeadlineExceeded,
                       std::to_string(pids.size()) + " processes survive in " + pids_dir_);
    }
    if (!used_kill_file) {
      // Freezing first stops a fork bomb from racing the kill loop; SIGKILL is delivered to
      // frozen tasks once they are thawed.
      if (freezer) (void)WriteCgroupFile(freezer_dir_ + "/freezer.state", "FROZEN");
      for (pid_t p : pids) ::kill(p, SIGKILL);
      if (freezer) (void)WriteCgroupFile(freezer_dir_ + "/freezer.state", "THAWED");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return {};
}

Status Cgroup::Remove(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const std::string& dir : dirs_) {
    while (::rmdir(dir.c_str()) != 0) {
      if (errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) {
        return ErrnoUnexpected("rmdir " + dir);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return {};
}

}  // namespace asb::sys
