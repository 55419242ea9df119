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
namespace {

Status WriteCgroupFile(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoUnexpected("open " + path);
  if (::write(fd.get(), value.data(), value.size()) < 0) {
    Error e = ErrnoError(errno, "write " + value + " to " + path);
    if (errno == EINVAL || errno == EBUSY) e.code = Code::kResourceExhausted;
    return tl::unexpected(e);
  }
  return {};
}

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

bool CgroupIsV2(const std::string& mount_root) {
  return PathExists(mount_root + "/cgroup.controllers");
}

std::string BestEffortParent(const CgroupConfig& config) {
  return ParentFor(config) + "-besteffort";
}

Status EnsureBestEffortParent(const CgroupConfig& config) {
  const bool v2 = CgroupIsV2(config.mount_root);
  const std::string rel = BestEffortParent(config);
  const std::string dir = config.mount_root + (v2 ? "" : "/cpu") + rel;
  if (v2) {
    // Children of the parent's parent may only use cpu once it is enabled there (the group
    // itself sits next to the parent, whose ancestors Create already enabled).
    std::string up = dir.substr(0, dir.rfind('/'));
    if (PathExists(up + "/cgroup.subtree_control")) {
      ASB_RETURN_IF_ERROR(WriteCgroupFile(up + "/cgroup.subtree_control", "+memory +cpu +pids"));
    }
  }
  ASB_RETURN_IF_ERROR(MakeDirs(dir));
  if (v2)
    ASB_RETURN_IF_ERROR(WriteCgroupFile(dir + "/cgroup.subtree_control", "+memory +cpu +pids"));
  if (!PathExists(dir + "/cpu.idle")) {
    return MakeError(Code::kUnimplemented, "no cpu.idle in " + dir + " (needs Linux 5.15+)");
  }
  return {};
}

Result<Cgroup> Cgroup::Open(const CgroupConfig& config, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return MakeError(Code::kInvalidArgument, "bad cgroup name \"" + name + "\"");
  }
  // A BestEffort sandbox's group is below BestEffortParent (Create put it there); the memory
  // hierarchy (v1) or the unified one (v2) says which.
  const std::string be = BestEffortParent(config);
  const bool v2 = CgroupIsV2(config.mount_root);
  if (PathExists(config.mount_root + (v2 ? "" : "/memory") + be + "/" + name)) {
    return OpenBelow(config, be, name);
  }
  return OpenBelow(config, ParentFor(config), name);
}

Result<Cgroup> Cgroup::OpenBelow(const CgroupConfig& config, const std::string& parent,
                                 const std::string& name) {
  Cgroup cg;
  cg.v2_ = CgroupIsV2(config.mount_root);
  if (cg.v2_) {
    std::string dir = config.mount_root + parent + "/" + name;
    cg.dirs_ = {dir};
    cg.memory_dir_ = cg.cpu_dir_ = cg.pids_dir_ = cg.freezer_dir_ = dir;
    return cg;
  }
  auto dir_for = [&](const std::string& controller) {
    return config.mount_root + "/" + controller + parent + "/" + name;
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
    std::string dir = entry.path().string() + ParentFor(config) + "/" + name;
    if (std::find(cg.dirs_.begin(), cg.dirs_.end(), dir) == cg.dirs_.end()) {
      cg.dirs_.push_back(dir);
    }
  }
  return cg;
}

Result<Cgroup> Cgroup::Create(const CgroupConfig& config, const std::string& name,
                              const CgroupLimits& limits) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return MakeError(Code::kInvalidArgument, "bad cgroup name \"" + name + "\"");
  }
  if (limits.cpu_best_effort) {
    Status idle = EnsureBestEffortParent(config);
    if (!idle) return tl::unexpected(idle.error().Wrap("cgroup " + name));
  }
  ASB_ASSIGN_OR_RETURN(
      Cgroup cg,
      OpenBelow(config, limits.cpu_best_effort ? BestEffortParent(config) : ParentFor(config),
                name));
  for (const std::string& dir : cg.dirs_) {
    if (PathExists(dir)) return MakeError(Code::kAlreadyExists, "cgroup exists: " + dir);
  }
  // Open looks below BestEffortParent first: a group of the same name there is this one too.
  if (!limits.cpu_best_effort) {
    ASB_ASSIGN_OR_RETURN(Cgroup other, OpenBelow(config, BestEffortParent(config), name));
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
    if (limits.cpu_millis > 0) {
      ASB_RETURN_IF_ERROR(WriteCgroupFile(cg.cpu_dir_ + "/cpu.cfs_period_us", "100000"));
      ASB_RETURN_IF_ERROR(WriteCgroupFile(cg.cpu_dir_ + "/cpu.cfs_quota_us",
                                          std::to_string(limits.cpu_millis * 100)));
    }
    if (limits.cpu_request_millis > 0) {
      ASB_RETURN_IF_ERROR(WriteCgroupFile(cg.cpu_dir_ + "/cpu.shares",
                                          std::to_string(CpuSharesFor(limits.cpu_request_millis))));
    }
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
