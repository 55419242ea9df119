#include "runtime/runsc/oci_spec.h"

#include <algorithm>
#include <cctype>

namespace asb::runtime::runsc {
namespace {

bool IsAbsolute(const std::string& p) { return !p.empty() && p.front() == '/'; }

}  // namespace

Status ValidateSpec(const SandboxSpec& spec) {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(spec.id));
  for (const std::string& lower : spec.rootfs.Layers()) {
    if (!IsAbsolute(lower)) {
      return MakeError(Code::kInvalidArgument,
                       "rootfs.lower_dir: must be an absolute path: \"" + lower + "\"");
    }
  }
  for (size_t i = 0; i < spec.rootfs.binds.size(); ++i) {
    const BindMount& b = spec.rootfs.binds[i];
    if (!IsAbsolute(b.host_path) || !IsAbsolute(b.sandbox_path)) {
      return MakeError(
          Code::kInvalidArgument,
          "rootfs.binds[" + std::to_string(i) + "]: host_path and sandbox_path must be absolute");
    }
  }
  if (spec.process.argv.empty() || spec.process.argv[0].empty()) {
    return MakeError(Code::kInvalidArgument, "process.argv: must not be empty");
  }
  if (!IsAbsolute(spec.process.cwd)) {
    return MakeError(Code::kInvalidArgument, "process.cwd: must be absolute");
  }
  const Limits& l = spec.limits;
  if (l.memory_bytes < 0 || l.cpu_millis < 0 || l.cpu_request_millis < 0 || l.pids < 0 ||
      l.ephemeral_storage_bytes < 0) {
    return MakeError(Code::kInvalidArgument, "limits: must not be negative");
  }
  if (spec.hostname.size() > 63) {
    return MakeError(Code::kInvalidArgument, "hostname: longer than 63 characters");
  }
  return OkStatus();
}

namespace {

Json CapabilitySets(const Json& caps) {
  return Json{{"bounding", caps},
              {"effective", caps},
              {"inheritable", caps},
              {"permitted", caps},
              {"ambient", caps}};
}

}  // namespace

Json BuildOciProcess(const ProcessSpec& process) {
  Json env = Json::array();
  bool has_path = false;
  for (const std::string& e : process.env) {
    if (e.rfind("PATH=", 0) == 0) has_path = true;
    env.push_back(e);
  }
  if (!has_path) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  // Security: an empty capability set for the app. gVisor itself needs no capabilities from
  // the spec; they only govern what the app may do against the sentry (mount, raw sockets, ...).
  return Json{
      {"terminal", false},
      {"user", {{"uid", process.uid}, {"gid", process.gid}}},
      {"args", process.argv},
      {"env", env},
      {"cwd", process.cwd},
      {"capabilities", CapabilitySets(Json::array())},
      {"noNewPrivileges", true},
      {"rlimits", Json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 65536}, {"soft", 65536}}})},
  };
}

int64_t GvisorCommandTasks(const SandboxSpec& spec) {
  int64_t pids = spec.limits.pids > 0 ? spec.limits.pids : kDefaultPids;
  return std::min(pids, kGvisorMaxCommandTasks);
}

int64_t GvisorHostTasks(int64_t inside) {
  constexpr int64_t kRuntimeThreads = 256;  // gofer, runsc run/wait, the stub pool's master
  return (inside * 3 / 2 + 16) * (inside * 3 + 32) + kRuntimeThreads;
}

Json BuildOciConfig(const SandboxSpec& spec, const OciPaths& paths) {
  Json mounts = Json::array();
  mounts.push_back({{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}});
  // gVisor turns a tmpfs at /dev into its own devtmpfs with the standard device nodes.
  mounts.push_back({{"destination", "/dev"},
                    {"type", "tmpfs"},
                    {"source", "tmpfs"},
                    {"options", {"nosuid", "strictatime", "mode=755"}}});
  // /tmp is the root overlay's own /tmp, bound explicitly: with an empty /tmp in the image runsc
  // would otherwise mount a sentry tmpfs there, held in memory and not capped by
  // ephemeral-storage. Bind mounts are served uncached (file-access-mounts=shared), so a full
  // disk shows up as ENOSPC on write().
  mounts.push_back({{"destination", "/tmp"},
                    {"type", "bind"},
                    {"source", paths.rootfs + "/tmp"},
                    {"options", {"rbind", "nosuid", "nodev", "rw"}}});
  mounts.push_back({{"destination", kSandboxInitPath},
                    {"type", "bind"},
                    {"source", paths.init},
                    {"options", {"bind", "nosuid", "nodev", "ro"}}});
  for (const BindMount& b : spec.rootfs.binds) {
    Json opts = {"rbind", "nosuid", "nodev"};
    opts.push_back(b.read_only ? "ro" : "rw");
    mounts.push_back({{"destination", b.sandbox_path},
                      {"type", "bind"},
                      {"source", b.host_path},
                      {"options", opts}});
  }

  Json resources = Json::object();
  if (spec.limits.memory_bytes > 0) {
    resources["memory"] = {{"limit", spec.limits.memory_bytes}};
  }
  if (spec.limits.cpu_millis > 0) {
    constexpr int64_t kPeriodUs = 100000;
    resources["cpu"] = {{"quota", spec.limits.cpu_millis * kPeriodUs / 1000},
                        {"period", kPeriodUs}};
  }
  if (spec.limits.cpu_request_millis > 0) {
    // The same share the native runtime writes (kubelet's mapping), applied by runsc to its
    // cgroup.
    resources["cpu"]["shares"] =
        std::clamp<int64_t>(spec.limits.cpu_request_millis * 1024 / 1000, 2, 262144);
  }
  resources["pids"] = {{"limit", GvisorHostTasks(GvisorCommandTasks(spec))}};

  // asb-init bounds the commands' tasks inside (see kSandboxInitPath), with the capabilities it
  // needs for that and drops before the container's argv runs.
  Json process = BuildOciProcess(spec.process);
  Json args =
      Json::array({kSandboxInitPath, "gvisor-entry", std::to_string(GvisorCommandTasks(spec))});
  for (const std::string& a : spec.process.argv) args.push_back(a);
  process["args"] = args;
  process["capabilities"] = CapabilitySets(
      Json::array({"CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_SETPCAP"}));

  Json annotations = Json::object();
  for (const auto& [k, v] : spec.labels) annotations["asb.label/" + k] = v;

  return Json{
      {"ociVersion", "1.0.2"},
      {"process", process},
      {"root", {{"path", paths.rootfs}, {"readonly", false}}},
      {"hostname", spec.hostname.empty() ? spec.id : spec.hostname},
      {"mounts", mounts},
      {"annotations", annotations},
      {"linux",
       {{"cgroupsPath", paths.cgroups_path},
        {"resources", resources},
        {"namespaces", Json::array({{{"type", "pid"}},
                                    {{"type", "ipc"}},
                                    {{"type", "uts"}},
                                    {{"type", "mount"}},
                                    {{"type", "network"}, {"path", paths.netns}}})}}},
  };
}

}  // namespace asb::runtime::runsc
