#include "sys/host_limits.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/unique_fd.h"

namespace asb::sys {
namespace {

// A sysctl file is small: one number and a newline.
constexpr size_t kMaxSysctlBytes = 64;

struct ReadResult {
  bool ok = false;
  int64_t value = 0;
  std::string reason;
};

ReadResult ReadSysctl(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return {false, 0,
            errno == ENOENT ? "not present (module not loaded?)"
                            : std::string("open: ") + std::strerror(errno)};
  }
  char buf[kMaxSysctlBytes];
  ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n < 0) return {false, 0, std::string("read: ") + std::strerror(errno)};
  std::string_view text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return {false, 0, "not a single number: \"" + std::string(text) + "\""};
  return {true, v, ""};
}

std::string WriteSysctl(const std::string& path, int64_t value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return std::string("open for write: ") + std::strerror(errno);
  const std::string text = std::to_string(value) + "\n";
  ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n < 0) return std::string("write: ") + std::strerror(errno);
  if (static_cast<size_t>(n) != text.size()) return "short write";
  return "";
}

}  // namespace

std::vector<SysctlMinimum> DenseNodeSysctls() {
  return {
      // ~12 tasks per idle native sandbox, ~75 per gVisor one: 10,000 native need ~120,000
      // pids. 4,194,304 is the kernel's ceiling (PID_MAX_LIMIT on 64-bit) and what systemd sets.
      {"kernel/pid_max", 4194304},
      // One neighbour entry per pod IP the host dials (probes, the router). Past gc_thresh3 the
      // kernel logs "neighbor table overflow" and the connect times out.
      {"net/ipv4/neigh/default/gc_thresh2", 16384},
      {"net/ipv4/neigh/default/gc_thresh3", 32768},
      // Each probe's connection stays tracked after it closes (measured: ~16 entries per
      // sandbox with a 1 s probe); 10,000 sandboxes and their users' connections.
      {"net/netfilter/nf_conntrack_max", 1048576},
  };
}

RaiseReport RaiseSysctls(const std::string& proc_sys, const std::vector<SysctlMinimum>& minimums) {
  RaiseReport report;
  for (const SysctlMinimum& m : minimums) {
    const std::string path = proc_sys + "/" + m.name;
    ReadResult now = ReadSysctl(path);
    if (!now.ok) {
      report.failed.push_back({m.name, now.reason});
      continue;
    }
    if (now.value >= m.at_least) {
      ++report.already;
      continue;
    }
    if (std::string err = WriteSysctl(path, m.at_least); !err.empty()) {
      report.failed.push_back({m.name, err});
      continue;
    }
    // The kernel may clamp what it accepts (threads-max, for one): report what it holds.
    ReadResult after = ReadSysctl(path);
    report.raised.push_back({m.name, now.value, after.ok ? after.value : m.at_least});
  }
  return report;
}

Result<RlimitChange> RaiseOpenFilesLimit(const std::string& proc_sys, uint64_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return ErrnoUnexpected("getrlimit");
  RlimitChange change{lim.rlim_cur, lim.rlim_max, lim.rlim_cur, lim.rlim_max};
  // setrlimit refuses a hard limit above fs.nr_open.
  if (ReadResult nr_open = ReadSysctl(proc_sys + "/fs/nr_open"); nr_open.ok && nr_open.value > 0)
    want = std::min(want, static_cast<uint64_t>(nr_open.value));
  if (lim.rlim_cur >= want && lim.rlim_max >= want) return change;
  rlimit raised{std::max<rlim_t>(lim.rlim_cur, want), std::max<rlim_t>(lim.rlim_max, want)};
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    // No CAP_SYS_RESOURCE: the soft limit can still go up to the hard one.
    raised = {std::max<rlim_t>(lim.rlim_cur, std::min<rlim_t>(want, lim.rlim_max)), lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return change;
  }
  change.soft_after = raised.rlim_cur;
  change.hard_after = raised.rlim_max;
  return change;
}

}  // namespace asb::sys
