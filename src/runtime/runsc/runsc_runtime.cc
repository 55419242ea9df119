#include "runtime/runsc/runsc_runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <thread>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "runtime/runsc/oci_spec.h"
#include "sys/cgroup.h"
#include "sys/command.h"
#include "sys/mounts.h"
#include "sys/net.h"
#include "sys/process.h"

namespace asb::runtime::runsc {

using sys::Child;
using sys::CommandResult;
using sys::RunCommand;
using namespace std::chrono_literals;

// Dialing the app is a connect to loopback: it either completes at once or the app's accept
// queue is full, which two seconds will not fix (the native runtime waits as long).
constexpr std::chrono::milliseconds kDialTimeout{2000};

// One sandbox started by this instance: the `runsc run` child and its monitor thread, which
// reaps the child and watches the cgroup v1 OOM eventfd.
struct RunscRuntime::Tracked {
  std::mutex mu;
  std::condition_variable cv;
  Child run;           // guarded by mu for Signal/Wait
  sys::Cgroup cgroup;  // the group runsc made from cgroupsPath (v1: its memory dir is watched)
  UniqueFd oom_efd;    // sys::Cgroup::OomEventfd (v1), may be empty
  std::thread monitor;
  bool exited = false;   // guarded by mu
  sys::ExitStatus exit;  // guarded by mu
  bool oom = false;      // guarded by mu
  SystemTime started_at{};
  SystemTime finished_at{};  // guarded by mu
};

namespace {

std::string Tail(const std::string& s, size_t n = 2000) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

std::string ReadTail(const std::string& path) {
  auto r = ReadFile(path);
  return r ? Tail(std::string(Trim(*r))) : std::string();
}

bool IsNotFound(const CommandResult& r) {
  return r.err.find("does not exist") != std::string::npos ||
         r.out.find("does not exist") != std::string::npos;
}

}  // namespace

void RunscRuntime::Monitor(std::shared_ptr<Tracked> t) {
  int pidfd;
  {
    std::lock_guard l(t->mu);
    pidfd = t->run.pidfd();
  }
  bool watch_oom = t->oom_efd.valid();
  for (;;) {
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {watch_oom ? t->oom_efd.get() : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      ASB_LOG(ERROR, "runsc monitor poll failed", "errno", errno);
      return;
    }
    if (watch_oom && (fds[1].revents & POLLIN)) {
      uint64_t count = 0;
      (void)!::read(t->oom_efd.get(), &count, sizeof(count));
      // v1 signals the eventfd when the cgroup hits OOM, just before the kill is counted, and
      // again when the cgroup is removed. So watch oom_control briefly: oom_kill turns 1 on a
      // real OOM; the files vanish on removal.
      const auto until = std::chrono::steady_clock::now() + 500ms;
      while (std::chrono::steady_clock::now() < until) {
        if (!PathExists(t->cgroup.memory_dir())) {
          watch_oom = false;
          break;
        }
        if (t->cgroup.OomKilled()) {
          std::lock_guard l(t->mu);
          t->oom = true;
          break;
        }
        std::this_thread::sleep_for(5ms);
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      std::lock_guard l(t->mu);
      auto st = t->run.Wait(0ms);
      if (!st) continue;
      t->exit = *st;
      t->exited = true;
      t->finished_at = std::chrono::system_clock::now();
      t->cv.notify_all();
      return;
    }
  }
}

Result<std::unique_ptr<RunscRuntime>> RunscRuntime::Create(RunscOptions options) {
  if (options.state_dir.empty() || options.state_dir.front() != '/') {
    return MakeError(Code::kInvalidArgument,
                     "runsc: state_dir must be an absolute path: \"" + options.state_dir + "\"");
  }
  if (options.platform.empty()) {
    return MakeError(Code::kInvalidArgument, "runsc: platform must not be empty");
  }
  if (options.default_ephemeral_storage_bytes <= 0) {
    return MakeError(Code::kInvalidArgument, "runsc: default_ephemeral_storage_bytes must be > 0");
  }
  auto version = RunCommand({options.runsc_path, "--version"}, options.command_timeout);
  if (!version || version->exit_code != 0) {
    return MakeError(Code::kFailedPrecondition,
                     "runsc: cannot run \"" + options.runsc_path + " --version\"" +
                         (version ? ": " + Tail(version->err) : ": " + version.error().message));
  }
  std::unique_ptr<RunscRuntime> rt(new RunscRuntime(std::move(options)));
  if (::access(rt->init_path_.c_str(), X_OK) != 0) {
    return MakeError(
        Code::kFailedPrecondition,
        "runsc: asb-init (the output log writer and each sandbox's first program) not found at " +
            rt->init_path_);
  }
  ASB_RETURN_IF_ERROR(MakeDirs(rt->bundles_dir_, 0700));
  ASB_RETURN_IF_ERROR(MakeDirs(rt->runsc_root_, 0700));
  return rt;
}

RunscRuntime::RunscRuntime(RunscOptions options)
    : options_(std::move(options)),
      init_path_(options_.init_path.empty() ? SelfExeDir() + "/asb-init" : options_.init_path),
      bundles_dir_(options_.state_dir + "/runsc"),
      runsc_root_(options_.state_dir + "/runsc-root"),
      scratch_disks_(options_.state_dir + "/disk-templates") {}

RunscRuntime::~RunscRuntime() {
  std::lock_guard l(mu_);
  for (auto& [id, t] : tracked_) {
    bool exited;
    {
      std::lock_guard tl(t->mu);
      exited = t->exited;
    }
    // A running sandbox outlives us; its monitor keeps the Tracked alive and reaps the child.
    if (t->monitor.joinable()) exited ? t->monitor.join() : t->monitor.detach();
  }
}

std::string RunscRuntime::BundleDir(const std::string& id) const { return bundles_dir_ + "/" + id; }

std::vector<std::string> RunscRuntime::RunscArgv(const std::string& id,
                                                 std::initializer_list<std::string> sub) const {
  // Every subcommand gets the same global flags: this runsc build re-reads --network and
  // friends on `start`/`exec`, and a mismatch fails ("cannot run with network enabled in root
  // network namespace").
  std::vector<std::string> argv = {options_.runsc_path, "--root",
                                   runsc_root_,         "--platform=" + options_.platform,
                                   "--network=host",    "--overlay2=none"};
  if (!options_.debug_log_dir.empty()) {
    argv.push_back("--debug");
    argv.push_back("--debug-log=" + options_.debug_log_dir + "/" + id + "/");
  }
  argv.insert(argv.end(), sub);
  return argv;
}

Result<std::string> RunscRuntime::RunscState(const std::string& id) {
  ASB_ASSIGN_OR_RETURN(CommandResult r,
                       RunCommand(RunscArgv(id, {"state", id}), options_.command_timeout));
  if (r.exit_code != 0) {
    if (IsNotFound(r)) return MakeError(Code::kNotFound, "runsc: no container " + id);
    return MakeError(Code::kInternal, "runsc state " + id + ": " + Tail(r.err + r.out));
  }
  ASB_ASSIGN_OR_RETURN(Json j, ParseJson(r.out));
  return GetString(j, "status", "unknown");
}

std::shared_ptr<RunscRuntime::Tracked> RunscRuntime::Find(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = tracked_.find(id);
  return it == tracked_.end() ? nullptr : it->second;
}

Status RunscRuntime::Start(const SandboxSpec& spec) {
  ASB_RETURN_IF_ERROR(ValidateSpec(spec));
  struct stat st {};
  for (const std::string& lower : spec.rootfs.Layers()) {
    if (::stat(lower.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return MakeError(Code::kInvalidArgument,
                       "rootfs.lower_dir: not a directory: \"" + lower + "\"");
    }
  }
  const std::string& id = spec.id;
  const std::string bundle = BundleDir(id);
  // The group goes where a native sandbox's would (sys::CpuPlacement, docs/cpu.md); runsc makes
  // it itself, so what that place needs must exist first.
  const sys::CgroupConfig cgroup_config{.parent = options_.cgroup_parent};
  const sys::CpuPlacement placement =
      sys::CpuPlacementFor(spec.limits.cpu_millis, spec.limits.cpu_request_millis);
  ASB_RETURN_IF_ERROR(sys::PrepareCpuPlacement(cgroup_config, placement));
  // mkdir is the reservation: atomic across threads and across asbd instances.
  if (::mkdir(bundle.c_str(), 0700) != 0) {
    if (errno == EEXIST) return MakeError(Code::kAlreadyExists, "sandbox " + id + " exists");
    return ErrnoUnexpected("mkdir " + bundle);
  }
  const std::string scratch = bundle + "/scratch";
  const std::string rootfs = bundle + "/rootfs";
  const std::string netns = bundle + "/netns";
  const std::string console = LogPath(id);
  const std::string cgroups_path = sys::CgroupPath(cgroup_config, "runsc-" + id, placement);

  // A warm-pool member's group starts idle-class (docs/cpu.md, "Pool members"): its cpu
  // directory is made here with what runsc would write, and `runsc run` joins it, so the whole
  // boot (runsc's own process, the gofer, the sentry) runs idle-class until its claim. runsc
  // uses a directory it finds and makes the other controllers' itself. On v2, where one
  // directory holds them all, the group is made idle-class only once runsc has made it.
  std::string idle_procs;
  if (spec.limits.cpu_idle && !sys::CgroupIsV2()) {
    auto procs = sys::CreateCpuGroup(cgroup_config, "runsc-" + id,
                                     {.cpu_millis = spec.limits.cpu_millis,
                                      .cpu_request_millis = spec.limits.cpu_request_millis,
                                      .cpu_placement = placement,
                                      .cpu_idle = true});
    if (!procs) {
      (void)RemoveTree(bundle);
      return tl::unexpected(procs.error().Wrap("gvisor sandbox " + id));
    }
    idle_procs = std::move(*procs);
  }

  sys::ScopedMount scratch_mount, rootfs_mount;
  Child run;
  auto fail = [&](const Error& e) -> Status {
    if (run.valid()) {
      (void)RunCommand(RunscArgv(id, {"delete", "--force", id}), options_.command_timeout);
      if (!run.Wait(5s)) {
        run.Signal(SIGKILL);
        (void)run.Wait(5s);
      }
    }
    rootfs_mount = {};
    scratch_mount = {};
    (void)sys::RemovePersistentNetns(netns);
    (void)RemoveTree(bundle);
    if (auto cg = RunscCgroup(id)) (void)cg->Remove(1s);
    ASB_LOG(WARN, "runsc start failed", "id", id, "error", e.message);
    return tl::unexpected(e.Wrap("gvisor sandbox " + id));
  };
  auto step = [&](const Status& s, const char* what) -> std::optional<Error> {
    if (s) return std::nullopt;
    return s.error().Wrap(what);
  };

  // 1. Writable root: overlay over an ext4 of ephemeral-storage on a loop device.
  int64_t eph = spec.limits.ephemeral_storage_bytes > 0 ? spec.limits.ephemeral_storage_bytes
                                                        : options_.default_ephemeral_storage_bytes;
  for (const std::string& d : {scratch, rootfs}) {
    if (::mkdir(d.c_str(), 0700) != 0) return fail(ErrnoError(errno, "mkdir " + d));
  }
  {
    auto dev = scratch_disks_.Create(bundle + "/scratch.img", eph);
    if (!dev) return fail(dev.error().Wrap("writable layer"));
    // The device now lives as long as this mount (Teardown's unmount frees it).
    auto m = sys::MountBlockDevice(dev->path, "ext4", kScratchMountData, scratch);
    if (!m) return fail(m.error().Wrap("writable layer"));
    scratch_mount = std::move(*m);
    if (::chmod(scratch.c_str(), 0700) != 0) return fail(ErrnoError(errno, "chmod scratch"));
  }
  if (::mkdir((scratch + "/upper").c_str(), 0755) != 0 ||
      ::mkdir((scratch + "/work").c_str(), 0700) != 0) {
    return fail(ErrnoError(errno, "mkdir overlay upper/work"));
  }
  {
    auto m = sys::MountOverlay(spec.rootfs.Layers(), scratch + "/upper", scratch + "/work", rootfs);
    if (!m) return fail(m.error().Wrap("root overlay"));
    rootfs_mount = std::move(*m);
  }
  // /tmp must exist and be world-writable+sticky on the root (it is not a separate mount).
  if (!PathExists(rootfs + "/tmp")) {
    if (::mkdir((rootfs + "/tmp").c_str(), 01777) != 0 ||
        ::chmod((rootfs + "/tmp").c_str(), 01777) != 0) {
      return fail(ErrnoError(errno, "mkdir /tmp in root"));
    }
  }
  // Bind targets must exist in the root for the gofer to mount over them.
  for (const BindMount& b : spec.rootfs.binds) {
    std::string target = rootfs + b.sandbox_path;
    if (PathExists(target)) continue;
    struct stat hs {};
    if (::stat(b.host_path.c_str(), &hs) != 0) {
      return fail(Error{Code::kInvalidArgument, "bind source missing: " + b.host_path, errno});
    }
    if (S_ISDIR(hs.st_mode)) {
      if (auto e = step(MakeDirs(target, 0755), "bind mount point")) return fail(*e);
    } else {
      std::string parent = target.substr(0, target.rfind('/'));
      if (auto e = step(MakeDirs(parent, 0755), "bind mount point")) return fail(*e);
      UniqueFd f(::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      if (!f) return fail(ErrnoError(errno, "create bind mount point " + target));
    }
  }

  {
    std::string target = rootfs + kSandboxInitPath;
    if (auto e = step(MakeDirs(target.substr(0, target.rfind('/')), 0755), "asb-init mount point"))
      return fail(*e);
    UniqueFd f(::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0755));
    if (!f) return fail(ErrnoError(errno, "create asb-init mount point " + target));
  }

  // 2. Network namespace: the pod network's (holding the sandbox's veth), or one of its own
  // with only loopback, kept in the bundle.
  if (spec.netns_path.empty()) {
    if (auto e = step(sys::CreatePersistentNetns(netns), "network namespace")) return fail(*e);
  }

  // 3. config.json.
  OciPaths paths{.rootfs = rootfs,
                 .netns = spec.netns_path.empty() ? netns : spec.netns_path,
                 .cgroups_path = cgroups_path,
                 .init = init_path_};
  Json config = BuildOciConfig(spec, paths);
  if (auto e = step(AtomicWriteFile(bundle + "/config.json", DumpJson(config, 2), 0600),
                    "write config.json")) {
    return fail(*e);
  }
  Json meta = {{"id", id},
               {"labels", spec.labels},
               {"created_at", FormatRfc3339(std::chrono::system_clock::now())}};
  if (auto e = step(AtomicWriteFile(bundle + "/asb.json", DumpJson(meta, 2), 0600), "asb.json")) {
    return fail(*e);
  }

  // 4. runsc run; it stays our child for the sandbox's lifetime. Its stdout and stderr (the
  // app's, which the sentry writes straight to these host fds, and runsc's own) are pipes into
  // an `asb-init log` process that keeps them in the capped output.log (runtime.h).
  {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return fail(ErrnoError(errno, "pipe"));
    UniqueFd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) return fail(ErrnoError(errno, "pipe"));
    UniqueFd err_r(err[0]), err_w(err[1]);
    UniqueFd log(::open(console.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!log) return fail(ErrnoError(errno, "open " + console));
    UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null) return fail(ErrnoError(errno, "open /dev/null"));
    auto drainer = sys::Spawn(
        {.path = init_path_,
         .argv = {"asb-init", "log", console, std::to_string(options_.output_log_limit_bytes)},
         .env = {},
         .fds = {{out_r.get(), 0}, {log.get(), 1}, {null.get(), 2}, {err_r.get(), 3}}});
    if (!drainer) return fail(drainer.error().Wrap("spawn output log writer"));
    // It forks and exits at once; its child holds the read ends from here on.
    auto drained = sys::WaitPid(*drainer);
    if (!drained || !WIFEXITED(*drained) || WEXITSTATUS(*drained) != 0) {
      return fail(Error{Code::kInternal, "asb-init log did not start"});
    }
    std::vector<std::string> argv = RunscArgv(id, {"run", "--bundle", bundle, id});
    auto child = sys::SpawnChild({.path = argv[0],
                                  .argv = argv,
                                  .inherit_env = true,
                                  .fds = {{null.get(), 0}, {out_w.get(), 1}, {err_w.get(), 2}}});
    if (!child) return fail(child.error().Wrap("spawn runsc run"));
    run = std::move(*child);
    // Microseconds after the spawn, long before runsc (a Go program starting) forks the gofer
    // and the sandbox, which inherit the group.
    if (!idle_procs.empty()) {
      if (auto e = step(sys::MoveToCgroup(idle_procs, run.pid()), "join the cpu cgroup"))
        return fail(*e);
    }
  }
  // Wait for "running". Fast path: runsc's own state file (<root>/<id>_sandbox:<id>.state, JSON
  // with "status"), read every 2 ms; each `runsc state` costs a Go process start (25-60 ms on
  // 2 busy cores), so it is only the fallback when the file is unreadable or unrecognised
  // (another runsc version), and only until one start has seen the file work: after that a
  // missing file just means runsc has not created the container yet. Polling `runsc state`
  // through that phase cost ~5 Go processes per start under load (gVisor churn 6.4 -> 4.6
  // claims/s), slowing the very starts it waited for.
  const std::string state_file = runsc_root_ + "/" + id + "_sandbox:" + id + ".state";
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  for (int round = 1;; ++round) {
    auto exited = run.Wait(2ms);
    if (exited) {
      return fail(Error{Code::kInternal, "runsc run exited with code " +
                                             std::to_string(exited->exit_code) + ": " +
                                             ReadTail(console)});
    }
    std::string state;
    if (auto text = ReadFile(state_file)) {
      if (auto j = ParseJson(*text)) state = GetString(*j, "status");
    }
    if (state == "running") {
      state_file_works_ = true;
      break;
    }
    if (state.empty() && !state_file_works_ && round % 25 == 0) {
      state = RunscState(id).value_or("");
    }
    if (state == "running") break;
    if (state == "stopped") {
      // The app may have exited at once; the child's exit code says how.
      auto done = run.Wait(5s);
      return fail(
          Error{Code::kInternal, "sandbox stopped during start (exit code " +
                                     (done ? std::to_string(done->exit_code) : std::string("?")) +
                                     "): " + ReadTail(console)});
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(Error{Code::kDeadlineExceeded,
                        "not running after " + std::to_string(options_.start_timeout.count()) +
                            " ms: " + ReadTail(console)});
    }
  }

  // 5. Track it.
  auto t = std::make_shared<Tracked>();
  t->run = std::move(run);
  t->started_at = std::chrono::system_clock::now();
  if (auto cg = RunscCgroup(id); cg && !cg->is_v2()) {
    t->cgroup = std::move(*cg);
    auto efd = t->cgroup.OomEventfd();
    if (efd) t->oom_efd = std::move(*efd);
    ASB_LOG(DEBUG, "oom eventfd", "id", id, "ok", t->oom_efd.valid());
  }
  t->monitor = std::thread(Monitor, t);
  {
    std::lock_guard l(mu_);
    tracked_[id] = t;
  }
  rootfs_mount.Release();
  scratch_mount.Release();
  ASB_LOG(INFO, "gvisor sandbox started", "id", id, "platform", options_.platform);
  return OkStatus();
}

Result<SandboxStatus> RunscRuntime::Inspect(const std::string& id) {
  if (auto t = Find(id)) {
    SandboxStatus s;
    std::lock_guard l(t->mu);
    s.started_at = t->started_at;
    if (!t->exited) {
      s.state = SandboxState::kRunning;
      return s;
    }
    s.state = SandboxState::kExited;
    s.exit_code = t->exit.exit_code;
    // runsc reports a signalled app as 128+signal (shell convention).
    if (t->exit.exit_code > 128 && t->exit.exit_code < 128 + 65) {
      s.term_signal = t->exit.exit_code - 128;
    }
    s.oom_killed = t->oom;
    s.finished_at = t->finished_at;
    if (t->oom) s.message = "OOMKilled: memory limit reached";
    return s;
  }
  auto state = RunscState(id);
  if (!state && state.error().code != Code::kNotFound) return tl::unexpected(state.error());
  if (!state && !PathExists(BundleDir(id))) {
    return MakeError(Code::kNotFound, "gvisor sandbox " + id + " not found");
  }
  SandboxStatus s;
  if (state && (*state == "running" || *state == "created" || *state == "paused")) {
    s.state = *state == "running" ? SandboxState::kRunning : SandboxState::kUnknown;
    s.message = "runsc state " + *state;
    return s;
  }
  s.state = SandboxState::kExited;
  s.exit_code = -1;
  s.message = "exited; exit status unknown (started by an earlier runtime instance)";
  return s;
}

Status RunscRuntime::Stop(const std::string& id, std::chrono::milliseconds grace) {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(id));
  std::shared_ptr<Tracked> t = Find(id);
  // Start creates the bundle before anything else and Teardown removes it last, so without it
  // nothing of this sandbox exists: answer without running runsc (two Go processes, ~50 ms).
  if (!t && !PathExists(BundleDir(id))) return OkStatus();
  auto exited_within = [&](std::chrono::milliseconds d) {
    if (t) {
      std::unique_lock l(t->mu);
      return t->cv.wait_for(l, d, [&] { return t->exited; });
    }
    const auto deadline = std::chrono::steady_clock::now() + d;
    for (;;) {
      auto s = RunscState(id);
      if (!s || *s != "running") return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);  // polling another process's state: no event to wait on
    }
  };

  bool running = false;
  if (t) {
    std::lock_guard l(t->mu);
    running = !t->exited;
  } else {
    auto s = RunscState(id);
    running = s && *s == "running";
  }
  if (running) {
    (void)RunCommand(RunscArgv(id, {"kill", id, "SIGTERM"}), options_.command_timeout);
    if (!exited_within(grace)) {
      (void)RunCommand(RunscArgv(id, {"kill", "--all", id, "SIGKILL"}), options_.command_timeout);
    }
  }
  // delete --force is OK for unknown ids on this build, so it is safe to always run. It can
  // fail with "stopping container: context deadline exceeded" while a big sandbox dies; the
  // retry then finds it gone.
  for (int attempt = 1;; ++attempt) {
    auto del = RunCommand(RunscArgv(id, {"delete", "--force", id}), options_.command_timeout);
    if (!del) return tl::unexpected(del.error().Wrap("runsc delete " + id));
    if (del->exit_code == 0 || IsNotFound(*del)) break;
    auto state = RunscState(id);
    if (!state && state.error().code == Code::kNotFound) break;
    if (attempt == 3) {
      return MakeError(Code::kInternal, "runsc delete --force " + id + ": " + Tail(del->err));
    }
  }
  if (t) {
    if (!exited_within(10s)) {
      std::lock_guard l(t->mu);
      t->run.Signal(SIGKILL);
    }
    if (!exited_within(10s)) {
      return MakeError(Code::kInternal, "runsc run for " + id + " did not exit");
    }
    if (t->monitor.joinable()) t->monitor.join();
    std::lock_guard l(mu_);
    tracked_.erase(id);
  }
  // Sandboxes recovered after an asbd restart have no tracked child: make sure no runsc process
  // of theirs survives the bundle.
  if (int left = sys::KillProcessesMentioning(BundleDir(id), 5s); left > 0)
    return MakeError(Code::kInternal,
                     std::to_string(left) + " runsc processes of " + id + " survived SIGKILL");
  return Teardown(id);
}

Status RunscRuntime::SetCpuIdle(const std::string& id, bool idle, const Limits& limits) {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(id));
  ASB_ASSIGN_OR_RETURN(sys::Cgroup cg,
                       sys::Cgroup::Open({.parent = options_.cgroup_parent}, "runsc-" + id));
  return cg.SetCpuIdle(idle, limits.cpu_request_millis);
}

Result<sys::Cgroup> RunscRuntime::RunscCgroup(const std::string& id) const {
  return sys::Cgroup::OpenAllHierarchies({.parent = options_.cgroup_parent}, "runsc-" + id);
}

Status RunscRuntime::Teardown(const std::string& id) {
  // runsc makes <hierarchy>/<parent>/runsc-<id> in every hierarchy and removes them on
  // `delete`; a sandbox whose runsc processes had to be SIGKILLed (recovered after an asbd
  // crash) leaves them behind.
  if (auto cg = RunscCgroup(id)) ASB_RETURN_IF_ERROR(cg->Remove(1s));
  const std::string bundle = BundleDir(id);
  ASB_RETURN_IF_ERROR(sys::Unmount(bundle + "/rootfs"));
  ASB_RETURN_IF_ERROR(sys::Unmount(bundle + "/scratch"));
  ASB_RETURN_IF_ERROR(sys::RemovePersistentNetns(bundle + "/netns"));
  ASB_RETURN_IF_ERROR(RemoveTree(bundle));
  ASB_LOG(INFO, "gvisor sandbox removed", "id", id);
  return OkStatus();
}

Result<UniqueFd> RunscRuntime::DialPort(const std::string& id, uint16_t port) {
  const std::string netns = BundleDir(id) + "/netns";
  if (!ValidateSandboxId(id) || !PathExists(netns)) {
    return MakeError(Code::kNotFound, "gvisor sandbox " + id + " not found");
  }
  return sys::ConnectInNetns(netns, port, kDialTimeout);
}

Result<ExecResult> RunscRuntime::Exec(const std::string& id, const ProcessSpec& process,
                                      std::chrono::milliseconds timeout) {
  const std::string bundle = BundleDir(id);
  if (!ValidateSandboxId(id) || !PathExists(bundle)) {
    return MakeError(Code::kNotFound, "gvisor sandbox " + id + " not found");
  }
  if (process.argv.empty()) return MakeError(Code::kInvalidArgument, "exec: argv is empty");
  if (auto t = Find(id)) {
    std::lock_guard l(t->mu);
    if (t->exited) return MakeError(Code::kFailedPrecondition, "gvisor sandbox " + id + " exited");
  }
  const std::string tag = RandomHex(6);
  const std::string process_json = bundle + "/exec-" + tag + ".json";
  const std::string pid_file = bundle + "/exec-" + tag + ".pid";
  ASB_RETURN_IF_ERROR(AtomicWriteFile(process_json, DumpJson(BuildOciProcess(process)), 0600));
  auto r = RunCommand(
      RunscArgv(id, {"exec", "--process", process_json, "--internal-pid-file", pid_file, id}),
      timeout);
  if (r && r->timed_out) {
    // Killing `runsc exec` leaves the process inside running: kill it by its sandbox pid.
    auto pid = ReadFile(pid_file);
    std::string p = pid ? std::string(Trim(*pid)) : "";
    auto k =
        RunCommand(RunscArgv(id, {"kill", "--pid", p, id, "SIGKILL"}), options_.command_timeout);
    ASB_LOG(DEBUG, "exec timeout kill", "id", id, "pid", p, "rc", k ? k->exit_code : -1, "err",
            k ? k->err + k->out : k.error().message);
  }
  ::unlink(process_json.c_str());
  ::unlink(pid_file.c_str());
  if (!r) return tl::unexpected(r.error().Wrap("runsc exec"));
  if (r->timed_out) {
    return MakeError(Code::kDeadlineExceeded,
                     "exec in " + id + ": killed after " + std::to_string(timeout.count()) + " ms");
  }
  return ExecResult{.exit_code = r->exit_code,
                    .stdout_data = std::move(r->out),
                    .stderr_data = std::move(r->err)};
}

Result<std::vector<std::string>> RunscRuntime::List() {
  // Every directory here is a bundle, also one a crashed Start left half-made (Stop removes it).
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListSubdirs(bundles_dir_));
  std::erase_if(ids, [](const std::string& name) { return name[0] == '.'; });
  return ids;
}

}  // namespace asb::runtime::runsc
