#include "runtime/native/native_runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/clock.h"
#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "runtime/native/init_spec.h"
#include "runtime/native/mount_plan.h"
#include "runtime/native/seccomp_policy.h"
#include "runtime/native/volume_ownership.h"
#include "sys/net.h"
#include "sys/process.h"
#include "sys/seccomp.h"

namespace asb::runtime::native {

struct NativeRuntime::Record {
  std::string id;
  uint32_t slot = 0;
  int64_t shim_pid = 0;
  uint64_t shim_start = 0;
  int64_t init_pid = 0;
  uint64_t init_start = 0;
  std::string started_at;
  std::string hostname;
  std::map<std::string, std::string> labels;

  Json ToJson() const {
    return Json{{"id", id},
                {"slot", slot},
                {"shim_pid", shim_pid},
                {"shim_start", shim_start},
                {"init_pid", init_pid},
                {"init_start", init_start},
                {"started_at", started_at},
                {"hostname", hostname},
                {"labels", labels}};
  }
  static Result<Record> FromJson(const Json& j) {
    Record r;
    try {
      r.id = j.value("id", "");
      r.slot = j.value("slot", uint32_t{0});
      r.shim_pid = j.value("shim_pid", int64_t{0});
      r.shim_start = j.value("shim_start", uint64_t{0});
      r.init_pid = j.value("init_pid", int64_t{0});
      r.init_start = j.value("init_start", uint64_t{0});
      r.started_at = j.value("started_at", "");
      r.hostname = j.value("hostname", "");
      r.labels = j.value("labels", std::map<std::string, std::string>{});
    } catch (const std::exception& e) {
      return MakeError(Code::kInternal, std::string("state.json: ") + e.what());
    }
    return r;
  }
};

namespace {

constexpr std::chrono::milliseconds kKillTimeout{5000};
constexpr std::chrono::milliseconds kDialTimeout{2000};

Result<UniqueFd> MemfdWith(const std::string& data) {
  UniqueFd fd(static_cast<int>(
      ::syscall(SYS_memfd_create, "asb-init-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!fd) return ErrnoUnexpected("memfd_create");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoUnexpected("write init spec");
    done += static_cast<size_t>(n);
  }
  // Sealed, so what asb-init reads is exactly what was written here: no holder of the fd can
  // change, grow or truncate it afterwards.
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
    return ErrnoUnexpected("seal init spec");
  return fd;
}

// Reads asb-init's messages until every holder of the sync socket closed it (or the deadline).
struct SyncOutcome {
  std::vector<InitMessage> messages;
  bool timed_out = false;
};
SyncOutcome ReadSync(int fd, std::chrono::steady_clock::time_point deadline) {
  SyncOutcome out;
  std::string buf;
  char chunk[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.timed_out = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  for (const std::string& line : Split(buf, '\n')) {
    if (Trim(line).empty()) continue;
    if (auto m = ParseInitMessage(line)) out.messages.push_back(*m);
  }
  return out;
}

// The first failure among asb-init's messages as an Error naming the step and errno.
std::optional<Error> StepError(const std::vector<InitMessage>& messages) {
  for (const InitMessage& m : messages) {
    if (m.step.empty()) continue;
    Error e = ErrnoError(m.err, "setup step \"" + m.step + "\" failed");
    e.code = Code::kInternal;
    return e;
  }
  return std::nullopt;
}

}  // namespace

NativeRuntime::NativeRuntime(NativeRuntimeOptions options)
    : options_(std::move(options)),
      root_(options_.state_dir + "/native"),
      scratch_disks_(options_.state_dir + "/disk-templates") {}

NativeRuntime::~NativeRuntime() = default;

Result<std::unique_ptr<NativeRuntime>> NativeRuntime::Create(NativeRuntimeOptions options) {
  if (options.state_dir.empty() || options.state_dir[0] != '/') {
    return MakeError(Code::kInvalidArgument, "native runtime: state_dir must be absolute");
  }
  if (::geteuid() != 0) {
    return MakeError(Code::kFailedPrecondition,
                     "native runtime needs root (namespaces, cgroups, id maps)");
  }
  if (options.init_path.empty()) options.init_path = SelfExeDir() + "/asb-init";
  if (::access(options.init_path.c_str(), X_OK) != 0) {
    return MakeError(Code::kFailedPrecondition,
                     "native runtime: asb-init not found at " + options.init_path);
  }
  if (options.id_map_size == 0 ||
      uint64_t{options.id_map_base} + uint64_t{options.id_map_size} * options.max_sandboxes >
          0xffffffffULL) {
    return MakeError(Code::kInvalidArgument, "native runtime: id map range exceeds 32 bits");
  }
  std::unique_ptr<NativeRuntime> rt(new NativeRuntime(std::move(options)));
  ASB_ASSIGN_OR_RETURN(rt->seccomp_bpf_, sys::CompileSeccomp(SandboxSeccompPolicy()));
  ASB_RETURN_IF_ERROR(MakeDirs(rt->root_, 0700));
  rt->layers_ = std::make_unique<LayerPool>(
      rt->scratch_disks_,
      LayerPoolOptions{.depth = rt->options_.layer_pool_depth,
                       .max_sizes = rt->options_.layer_pool_sizes,
                       .prefill = {rt->options_.default_ephemeral_storage_bytes}});
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> ids, rt->List());
  for (const std::string& id : ids) {
    if (auto rec = rt->LoadRecord(id)) rt->used_slots_.insert(rec->slot);
  }
  return rt;
}

std::string NativeRuntime::SandboxDir(const std::string& id) const { return root_ + "/" + id; }

Result<sys::Cgroup> NativeRuntime::CgroupOf(const std::string& id) const {
  return sys::Cgroup::Open(options_.cgroup, id);
}

Status NativeRuntime::SetCpuIdle(const std::string& id, bool idle, const Limits& limits) {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(id));
  ASB_ASSIGN_OR_RETURN(sys::Cgroup cgroup, CgroupOf(id));
  return cgroup.SetCpuIdle(idle, limits.cpu_request_millis);
}

Result<NativeRuntime::Record> NativeRuntime::LoadRecord(const std::string& id) const {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(id));
  auto text = ReadFile(SandboxDir(id) + "/state.json");
  if (!text) return MakeError(Code::kNotFound, "sandbox " + id + " not found");
  ASB_ASSIGN_OR_RETURN(Json j, ParseJson(*text));
  return Record::FromJson(j);
}

Result<std::vector<std::string>> NativeRuntime::List() {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListSubdirs(root_));
  std::vector<std::string> out;
  for (const std::string& name : dirs) {
    if (ValidateSandboxId(name) && PathExists(root_ + "/" + name + "/state.json")) {
      out.push_back(name);
    }
  }
  return out;
}

Status NativeRuntime::Start(const SandboxSpec& spec) {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(spec.id));
  if (spec.process.argv.empty() || spec.process.argv[0].empty()) {
    return MakeError(Code::kInvalidArgument, "process.argv must not be empty");
  }
  if (spec.process.uid >= options_.id_map_size || spec.process.gid >= options_.id_map_size) {
    return MakeError(Code::kInvalidArgument,
                     "process uid/gid must be below " + std::to_string(options_.id_map_size));
  }
  if (spec.hostname.size() > 64) {
    return MakeError(Code::kInvalidArgument, "hostname longer than 64 characters");
  }
  uint32_t slot = 0;
  {
    std::lock_guard l(mu_);
    if (starting_.count(spec.id) || PathExists(SandboxDir(spec.id))) {
      return MakeError(Code::kAlreadyExists, "sandbox " + spec.id + " already exists");
    }
    while (used_slots_.count(slot)) ++slot;
    if (slot >= options_.max_sandboxes) {
      return MakeError(Code::kResourceExhausted, "no free uid range for another sandbox");
    }
    used_slots_.insert(slot);
    starting_.insert(spec.id);
  }
  Status s = StartLocked(spec, slot);
  if (!s) Cleanup(spec.id, kKillTimeout);
  std::lock_guard l(mu_);
  starting_.erase(spec.id);
  if (!s) {
    used_slots_.erase(slot);
    live_.erase(spec.id);
    return tl::unexpected(s.error().Wrap("sandbox " + spec.id));
  }
  return {};
}

Status NativeRuntime::StartLocked(const SandboxSpec& spec, uint32_t slot) {
  // Before anything exists to clean up: a volume the sandbox can't own fails the start.
  for (const BindMount& b : spec.rootfs.binds) {
    if (!b.sandbox_owned) continue;
    ASB_RETURN_IF_ERROR(GiveVolumeToIds(
        b.host_path, options_.id_map_base + slot * options_.id_map_size, options_.id_map_size));
  }
  const std::string dir = SandboxDir(spec.id);
  if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoUnexpected("mkdir " + dir);
  if (::mkdir((dir + "/root").c_str(), 0755) != 0) return ErrnoUnexpected("mkdir root");
  if (::mkdir((dir + "/scratch").c_str(), 0700) != 0) return ErrnoUnexpected("mkdir scratch");
  Record rec;
  rec.id = spec.id;
  rec.slot = slot;
  rec.hostname = spec.hostname.empty() ? spec.id : spec.hostname;
  rec.labels = spec.labels;
  // The slot is on disk before any process exists, so a crash mid-start never frees a uid
  // range that a leftover process still uses.
  ASB_RETURN_IF_ERROR(WriteStateFile(dir + "/state.json", DumpJson(rec.ToJson()), 0600));

  sys::CgroupLimits limits{
      .memory_bytes = spec.limits.memory_bytes,
      .cpu_millis = spec.limits.cpu_millis,
      .cpu_request_millis = spec.limits.cpu_request_millis,
      .pids = spec.limits.pids > 0 ? spec.limits.pids : options_.default_pids,
      .cpu_placement = sys::CpuPlacementFor(spec.limits.cpu_millis, spec.limits.cpu_request_millis),
      .cpu_idle = spec.limits.cpu_idle};
  ASB_ASSIGN_OR_RETURN(sys::Cgroup cgroup, sys::Cgroup::Create(options_.cgroup, spec.id, limits));

  const uint32_t base = options_.id_map_base + slot * options_.id_map_size;
  // Ready-made (layer_pool.h); asb-init attaches it in the sandbox's mount namespace, and
  // layer_fds_ keeps a reference until Stop/Cleanup hands it back (ReleaseLayer).
  ASB_ASSIGN_OR_RETURN(ScratchLayer layer,
                       layers_->Take(spec.limits.ephemeral_storage_bytes > 0
                                         ? spec.limits.ephemeral_storage_bytes
                                         : options_.default_ephemeral_storage_bytes));
  const int layer_fd = layer.mount.get();
  {
    std::lock_guard l(mu_);
    layer_fds_[spec.id] = std::move(layer.mount);
  }
  MountPlanInput plan_in{.root_dir = dir + "/root",
                         .scratch_dir = dir + "/scratch",
                         .rootfs = spec.rootfs,
                         .scratch_mount_fd = kInitLayerFd,
                         .memory_bytes = spec.limits.memory_bytes,
                         .root_uid = base,
                         .root_gid = base,
                         .work_uid = base + spec.process.uid,
                         .work_gid = base + spec.process.gid,
                         .workdir = spec.process.cwd.empty() ? "/" : spec.process.cwd};
  InitSpec init;
  init.mode = "run";
  init.hostname = rec.hostname;
  init.cgroup_procs = cgroup.ProcsFiles();
  ASB_ASSIGN_OR_RETURN(init.mounts, PlanMounts(plan_in));
  init.root_dir = plan_in.root_dir;
  init.uid_map = "0 " + std::to_string(base) + " " + std::to_string(options_.id_map_size);
  init.gid_map = init.uid_map;
  init.process = spec.process;
  if (init.process.cwd.empty()) init.process.cwd = "/";
  init.seccomp_bpf = seccomp_bpf_;
  init.exit_file = dir + "/exit.json";
  init.log_path = dir + "/output.log";
  init.log_limit_bytes = options_.output_log_limit_bytes;
  UniqueFd netns;
  if (!spec.netns_path.empty()) {
    netns.Reset(::open(spec.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) return ErrnoUnexpected("open netns " + spec.netns_path);
    init.join_netns = true;
  }

  ASB_ASSIGN_OR_RETURN(UniqueFd spec_fd, MemfdWith(DumpJson(InitSpecToJson(init))));
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoUnexpected("socketpair");
  }
  UniqueFd sync(sv[0]), child_sync(sv[1]);
  UniqueFd log(
      ::open((dir + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log) return ErrnoUnexpected("open output.log");
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return ErrnoUnexpected("open /dev/null");

  sys::SpawnOptions so{.path = options_.init_path,
                       .argv = {"asb-init", "run"},
                       .env = {},
                       .fds = {{null.get(), 0},
                               {log.get(), 1},
                               {log.get(), 2},
                               {spec_fd.get(), kInitSpecFd},
                               {child_sync.get(), kInitSyncFd},
                               {layer_fd, kInitLayerFd}}};
  if (netns) so.fds.push_back({netns.get(), kInitNetnsFd});
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  ASB_ASSIGN_OR_RETURN(pid_t first, sys::Spawn(so));
  child_sync.Reset();
  spec_fd.Reset();
  SyncOutcome outcome = ReadSync(sync.get(), deadline);
  if (outcome.timed_out) ::kill(first, SIGKILL);
  (void)sys::WaitPid(first);
  if (auto err = StepError(outcome.messages)) return tl::unexpected(*err);
  if (outcome.timed_out) {
    return MakeError(Code::kDeadlineExceeded, "sandbox setup did not finish in " +
                                                  std::to_string(options_.start_timeout.count()) +
                                                  " ms");
  }
  const InitMessage* hello = nullptr;
  for (const InitMessage& m : outcome.messages) {
    if (m.init_pid > 0) hello = &m;
  }
  if (hello == nullptr) {
    return MakeError(Code::kInternal,
                     "asb-init exited without starting the sandbox (see " + dir + "/output.log)");
  }
  rec.shim_pid = hello->shim_pid;
  rec.shim_start = hello->shim_start;
  rec.init_pid = hello->init_pid;
  rec.init_start = hello->init_start;
  rec.started_at = FormatRfc3339Micro(RealClock::Get().Now());
  ASB_RETURN_IF_ERROR(WriteStateFile(dir + "/state.json", DumpJson(rec.ToJson()), 0600));
  // Opens the pidfd and netns now, while the init is known to be ours.
  (void)GetLive(spec.id);
  ASB_LOG(DEBUG, "sandbox started", "id", spec.id, "init_pid", rec.init_pid, "slot", slot);
  return {};
}

Result<std::shared_ptr<NativeRuntime::Live>> NativeRuntime::GetLive(const std::string& id) {
  {
    std::lock_guard l(mu_);
    auto it = live_.find(id);
    if (it != live_.end()) return it->second;
  }
  ASB_ASSIGN_OR_RETURN(Record rec, LoadRecord(id));
  auto live = std::make_shared<Live>();
  // Still starting: nothing to open yet, and nothing to cache.
  if (rec.init_pid == 0) return live;
  if (rec.init_pid > 0) {
    if (auto fd = sys::PidfdOpenVerified(static_cast<pid_t>(rec.init_pid), rec.init_start)) {
      live->init_pidfd = std::move(*fd);
      UniqueFd ns(::open(("/proc/" + std::to_string(rec.init_pid) + "/ns/net").c_str(),
                         O_RDONLY | O_CLOEXEC));
      // Re-check after opening: if the pid was reused in between, the start time differs.
      auto again = sys::ProcStartTime(static_cast<pid_t>(rec.init_pid));
      if (ns && again && *again == rec.init_start) live->netns = std::move(ns);
    }
  }
  std::lock_guard l(mu_);
  auto [it, inserted] = live_.emplace(id, live);
  return it->second;
}

Result<SandboxStatus> NativeRuntime::Inspect(const std::string& id) {
  ASB_ASSIGN_OR_RETURN(Record rec, LoadRecord(id));
  if (rec.init_pid == 0) {
    SandboxStatus st;
    st.state = SandboxState::kUnknown;
    st.message = "sandbox is starting";
    return st;
  }
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<Live> live, GetLive(id));
  SandboxStatus st;
  if (auto t = ParseRfc3339(rec.started_at)) st.started_at = *t;
  if (live->init_pidfd && !sys::PidfdExited(live->init_pidfd.get())) {
    st.state = SandboxState::kRunning;
    return st;
  }
  st.state = SandboxState::kExited;
  const std::string exit_file = SandboxDir(id) + "/exit.json";
  // The shim writes the exit record right after reaping the init: give it a moment.
  bool shim_alive = false;
  if (rec.shim_pid > 0) {
    if (auto fd = sys::PidfdOpenVerified(static_cast<pid_t>(rec.shim_pid), rec.shim_start)) {
      shim_alive = !sys::PidfdWaitExit(fd->get(), std::chrono::milliseconds(500));
    }
  }
  if (auto text = ReadFile(exit_file)) {
    if (auto j = ParseJson(*text); j && j->is_object()) {
      st.exit_code = j->value("exit_code", 0);
      st.term_signal = j->value("signal", 0);
      if (auto t = ParseRfc3339(j->value("finished_at", ""))) st.finished_at = *t;
    }
  } else {
    st.message = shim_alive ? "sandbox init exited; exit status not yet recorded"
                            : "sandbox init is gone and left no exit status";
  }
  if (auto cg = CgroupOf(id)) st.oom_killed = cg->OomKilled();
  if (st.oom_killed) st.message = "OOMKilled";
  return st;
}

void NativeRuntime::Cleanup(const std::string& id, std::chrono::milliseconds timeout) {
  if (auto cg = CgroupOf(id)) {
    if (Status s = cg->KillAll(timeout); !s) {
      ASB_LOG(WARN, "sandbox processes survive", "id", id, "error", s.error().message);
    }
    if (Status s = cg->Remove(timeout); !s) {
      ASB_LOG(WARN, "cgroup not removed", "id", id, "error", s.error().message);
    }
  }
  ReleaseLayer(id);
  if (Status s = RemoveTree(SandboxDir(id)); !s) {
    ASB_LOG(WARN, "sandbox dir not removed", "id", id, "error", s.error().message);
  }
}

void NativeRuntime::ReleaseLayer(const std::string& id) {
  UniqueFd layer;
  {
    std::lock_guard l(mu_);
    auto it = layer_fds_.find(id);
    if (it == layer_fds_.end()) return;  // started by an earlier daemon: its namespace held it
    layer = std::move(it->second);
    layer_fds_.erase(it);
  }
  layers_->Release(std::move(layer));
}

Status NativeRuntime::Stop(const std::string& id, std::chrono::milliseconds grace) {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(id));
  {
    std::lock_guard l(mu_);
    if (starting_.count(id)) {
      return MakeError(Code::kUnavailable, "sandbox " + id + " is still starting");
    }
  }
  if (!PathExists(SandboxDir(id))) {
    ReleaseLayer(id);
    std::lock_guard l(mu_);
    live_.erase(id);
    return {};
  }
  auto rec = LoadRecord(id);
  if (rec) {
    if (auto live = GetLive(id); live && (*live)->init_pidfd) {
      int pidfd = (*live)->init_pidfd.get();
      // The init is pid 1 of its namespace: SIGTERM reaches it only if it installed a handler.
      if (!sys::PidfdExited(pidfd) && grace.count() > 0) {
        (void)sys::PidfdSignal(pidfd, SIGTERM);
        sys::PidfdWaitExit(pidfd, grace);
      }
      (void)sys::PidfdSignal(pidfd, SIGKILL);
    }
  }
  auto cg = CgroupOf(id);
  if (cg) {
    Status killed = cg->KillAll(kKillTimeout);
    if (!killed) return tl::unexpected(killed.error().Wrap("stop sandbox " + id));
    ASB_RETURN_IF_ERROR(cg->Remove());
  }
  ReleaseLayer(id);
  // The mount points under the sandbox dir were only ever mounted in the sandbox's own mount
  // namespace, which died with its last process: on the host they are plain empty dirs.
  ASB_RETURN_IF_ERROR(RemoveTree(SandboxDir(id)));
  std::lock_guard l(mu_);
  live_.erase(id);
  if (rec) used_slots_.erase(rec->slot);
  return {};
}

Result<UniqueFd> NativeRuntime::DialPort(const std::string& id, uint16_t port) {
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<Live> live, GetLive(id));
  if (!live->netns || !live->init_pidfd || sys::PidfdExited(live->init_pidfd.get())) {
    return MakeError(Code::kUnavailable, "sandbox " + id + " is not running");
  }
  return sys::ConnectInNetns(live->netns.get(), port, kDialTimeout);
}

Result<ExecResult> NativeRuntime::Exec(const std::string& id, const ProcessSpec& process,
                                       std::chrono::milliseconds timeout) {
  if (process.argv.empty() || process.argv[0].empty()) {
    return MakeError(Code::kInvalidArgument, "exec: argv must not be empty");
  }
  if (process.uid >= options_.id_map_size || process.gid >= options_.id_map_size) {
    return MakeError(Code::kInvalidArgument, "exec: uid/gid out of the sandbox's range");
  }
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<Live> live, GetLive(id));
  if (!live->init_pidfd || sys::PidfdExited(live->init_pidfd.get())) {
    return MakeError(Code::kFailedPrecondition, "sandbox " + id + " is not running");
  }
  ASB_ASSIGN_OR_RETURN(sys::Cgroup cg, CgroupOf(id));
  InitSpec init;
  init.mode = "exec";
  init.cgroup_procs = cg.ProcsFiles();
  init.process = process;
  if (init.process.cwd.empty()) init.process.cwd = "/";
  init.seccomp_bpf = seccomp_bpf_;
  ASB_ASSIGN_OR_RETURN(UniqueFd spec_fd, MemfdWith(DumpJson(InitSpecToJson(init))));
  int sv[2], out[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoUnexpected("socketpair");
  }
  UniqueFd sync(sv[0]), child_sync(sv[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  UniqueFd err_r(err[0]), err_w(err[1]);
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  sys::SpawnOptions so{.path = options_.init_path,
                       .argv = {"asb-init", "exec"},
                       .env = {},
                       .fds = {{null.get(), 0},
                               {out_w.get(), 1},
                               {err_w.get(), 2},
                               {spec_fd.get(), kInitSpecFd},
                               {child_sync.get(), kInitSyncFd},
                               {live->init_pidfd.get(), kInitPidFd}}};
  ASB_ASSIGN_OR_RETURN(pid_t helper, sys::Spawn(so));
  child_sync.Reset();
  out_w.Reset();
  err_w.Reset();
  auto helper_fd = sys::PidfdOpen(helper);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  ExecResult result;
  std::string sync_text;
  bool timed_out = false;
  bool helper_done = false;
  int fds[3] = {out_r.get(), err_r.get(), sync.get()};
  std::string* sinks[3] = {&result.stdout_data, &result.stderr_data, &sync_text};
  while (true) {
    pollfd p[4];
    int n = 0;
    int map[4];
    for (int i = 0; i < 3; ++i) {
      if (fds[i] >= 0) {
        p[n] = {fds[i], POLLIN, 0};
        map[n++] = i;
      }
    }
    if (n == 0) break;
    // Once the helper exited, a background process may still hold the pipes: drain what is
    // there and stop instead of waiting for its EOF.
    if (!helper_done && helper_fd) {
      p[n] = {helper_fd->get(), POLLIN, 0};
      map[n++] = 3;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int wait_ms = helper_done ? 0 : static_cast<int>(std::max<int64_t>(0, left.count()));
    int rc = ::poll(p, static_cast<nfds_t>(n), wait_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      if (helper_done) break;
      timed_out = true;
      break;
    }
    for (int k = 0; k < n; ++k) {
      if (!p[k].revents) continue;
      if (map[k] == 3) {
        helper_done = true;
        continue;
      }
      int i = map[k];
      char buf[16384];
      ssize_t got = ::read(fds[i], buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i] = -1;
        continue;
      }
      if (sinks[i]->size() < options_.exec_output_limit) {
        sinks[i]->append(
            buf, std::min(static_cast<size_t>(got), options_.exec_output_limit - sinks[i]->size()));
      }
    }
  }
  if (timed_out) ::kill(helper, SIGKILL);  // its child dies too (PR_SET_PDEATHSIG)
  ASB_ASSIGN_OR_RETURN(int status, sys::WaitPid(helper));
  std::vector<InitMessage> messages;
  for (const std::string& line : Split(sync_text, '\n')) {
    if (auto m = ParseInitMessage(line)) messages.push_back(*m);
  }
  if (auto e = StepError(messages)) {
    Error wrapped = e->Wrap("exec in sandbox " + id);
    if (e->sys_errno == ENOENT) wrapped.code = Code::kNotFound;
    return tl::unexpected(wrapped);
  }
  if (timed_out) {
    return MakeError(Code::kDeadlineExceeded, "exec in sandbox " + id + " timed out after " +
                                                  std::to_string(timeout.count()) + " ms");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace asb::runtime::native
