#include "node/node_agent.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "api/object_meta.h"
#include "api/resource.h"
#include "base/log.h"
#include "node/node_metrics.h"
#include "node/pool_member.h"
#include "node/probe.h"
#include "node/recovery.h"
#include "node/simulated_node.h"

namespace asb::node {
namespace {

using std::chrono::milliseconds;

// Retry delay after a store error (conflicts retry at once).
constexpr milliseconds kStoreRetry{200};

std::optional<SystemTime> Earliest(std::optional<SystemTime> a, std::optional<SystemTime> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

bool Finished(const PodView& view) {
  const std::string phase = ComputePhase(view);
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

NodeAgent::NodeAgent(store::Store& store, std::map<std::string, runtime::Runtime*> runtimes,
                     image::ImageResolver& images, NodeOptions options)
    : store_(store),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()),
      timers_(options_.clock != nullptr ? *options_.clock : MonotonicClock::Get()),
      runtimes_(std::move(runtimes), options_.default_runtime_class),
      preparer_(images, store_),
      writer_(store_),
      events_(store_, clock_, options_.node_name),
      // Every deadline is a time on timers_ (converted to a delay in Sync), and the queue waits on
      // the same clock, so a FakeClock drives the whole schedule.
      queue_(timers_, QueueOptions{.name = "node", .workers = options_.workers},
             [this](const std::string& key) -> Result<Requeue> {
               Sync(key);
               return Requeue::None();
             }) {}

NodeAgent::~NodeAgent() { Stop(); }

Status NodeAgent::Start() {
  if (options_.node_name.empty()) {
    return MakeError(Code::kInvalidArgument, "node options: node_name must not be empty");
  }
  if (options_.backoff_base <= milliseconds(0) || options_.backoff_cap < options_.backoff_base) {
    return MakeError(Code::kInvalidArgument,
                     "node options: backoff_base must be > 0 and <= backoff_cap");
  }
  if (options_.exit_check_interval <= milliseconds(0) ||
      options_.first_probe_interval <= milliseconds(0)) {
    return MakeError(Code::kInvalidArgument, "node options: intervals must be > 0");
  }
  ASB_ASSIGN_OR_RETURN(simulated_, IsSimulatedNode(runtimes_.distinct()));
  if (simulated_)
    ASB_LOG(WARN, "node: SIMULATED node: pods are records, nothing runs (scale tests only)", "node",
            options_.node_name);
  ASB_RETURN_IF_ERROR(Recover());
  started_ = true;
  queue_.Start();
  watch_thread_ = std::thread([this] { WatchLoop(); });
  return OkStatus();
}

void NodeAgent::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard l(mu_);
    if (watcher_) watcher_->Stop();
  }
  stop_cv_.notify_all();
  if (watch_thread_.joinable()) watch_thread_.join();
  queue_.Stop();
}

Result<UniqueFd> NodeAgent::DialPod(const std::string& ns, const std::string& pod, uint16_t port) {
  runtime::Runtime* rt = nullptr;
  std::string id;
  {
    std::lock_guard l(mu_);
    auto it = records_.find(ns + "/" + pod);
    if (it == records_.end()) {
      return MakeError(Code::kNotFound, "pod " + ns + "/" + pod + " is not on this node");
    }
    if (!it->second->sandbox.running || it->second->sandbox.runtime == nullptr) {
      return MakeError(Code::kUnavailable, "pod " + ns + "/" + pod + " is not running");
    }
    rt = it->second->sandbox.runtime;
    id = it->second->sandbox.id;
  }
  return rt->DialPort(id, port);
}

Result<NodeAgent::PodSandbox> NodeAgent::SandboxOf(const std::string& ns, const std::string& pod) {
  std::lock_guard l(mu_);
  auto it = records_.find(ns + "/" + pod);
  if (it == records_.end() || it->second->sandbox.id.empty())
    return MakeError(Code::kNotFound, "pod " + ns + "/" + pod + " has no sandbox on this node");
  const runtime::Runtime* rt = it->second->sandbox.runtime;
  return PodSandbox{it->second->pod.uid, it->second->sandbox.id, rt ? std::string(rt->name()) : "",
                    it->second->sandbox.running};
}

void NodeAgent::WaitForStop(milliseconds d) {
  std::unique_lock l(mu_);
  stop_cv_.wait_for(l, d, [this] { return stopping_.load(); });
}

// ---------------------------------------------------------------------------------------------
// Watch: list, enqueue everything relevant, then watch from the list's revision; re-list on kGone.

void NodeAgent::WatchLoop() {
  milliseconds retry{100};
  auto relevant = [this](const Json& pod) {
    // Mirror pods stand for a component the daemon runs in-process (kubelet convention).
    const Json* ann = Find(pod, "metadata.annotations");
    if (ann && ann->is_object() && ann->contains("kubernetes.io/config.mirror")) return false;
    std::string node = GetString(pod, "spec.nodeName");
    return node == options_.node_name || (node.empty() && options_.bind_unbound);
  };
  while (!stopping_) {
    auto list = store_.List(api::PodResource(), "", {});
    if (!list) {
      ASB_LOG(WARN, "node: listing pods failed", "error", list.error().message);
      WaitForStop(retry);  // store outage only; normal operation never waits here
      retry = std::min(retry * 2, milliseconds(5000));
      continue;
    }
    std::set<std::string> seen;
    for (const Json& pod : list->items) {
      if (!relevant(pod)) continue;
      seen.insert(PodKey(pod));
      queue_.Add(PodKey(pod));
    }
    {
      // Pods we run that vanished (or moved) while we weren't watching.
      std::lock_guard l(mu_);
      for (const auto& [key, rec] : records_) {
        if (seen.count(key) == 0) queue_.Add(key);
      }
    }
    store::WatchOptions wo;
    wo.resource_version = list->resource_version;
    auto w = store_.Watch(api::PodResource(), "", wo);
    if (!w) {
      ASB_LOG(WARN, "node: watching pods failed", "error", w.error().message);
      WaitForStop(retry);
      retry = std::min(retry * 2, milliseconds(5000));
      continue;
    }
    retry = milliseconds(100);
    store::Watcher* watcher = w->get();
    {
      std::lock_guard l(mu_);
      watcher_ = std::move(*w);
      if (stopping_) watcher_->Stop();
    }
    while (!stopping_) {
      auto ev = watcher->Next(std::chrono::seconds(5));
      if (!ev) {
        if (ev.error().code != Code::kGone && !stopping_) {
          ASB_LOG(WARN, "node: pod watch ended", "error", ev.error().message);
        }
        break;  // re-list
      }
      if (!*ev || (*ev)->type == store::EventType::kBookmark) continue;
      const Json& pod = (*ev)->object;
      const std::string key = PodKey(pod);
      if ((*ev)->type == store::EventType::kModified) {
        std::lock_guard l(mu_);
        if (IsOwnEcho(key, (*ev)->resource_version)) continue;
        if (auto held = writing_.find(key); held != writing_.end()) {
          held->second.push_back((*ev)->resource_version);  // EndOwnWrite decides
          continue;
        }
      }
      if (relevant(pod)) {
        queue_.Add(key);
      } else {
        std::lock_guard l(mu_);
        if (records_.count(key) != 0) queue_.Add(key);
      }
    }
    std::lock_guard l(mu_);
    watcher_.reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Sync: one level-triggered pass over one pod.

void NodeAgent::Sync(const std::string& key) {
  if (stopping_) return;
  Next next = SyncPod(key);
  // Rounded up: a timer never fires before the pod's deadline (which would sync it for nothing).
  if (next && !stopping_)
    queue_.AddAfter(key, std::chrono::ceil<milliseconds>(*next - timers_.Now()));
}

NodeAgent::Next NodeAgent::SyncPod(const std::string& key) {
  const SystemTime now = timers_.Now();
  size_t slash = key.find('/');
  const std::string ns = key.substr(0, slash);
  const std::string name = key.substr(slash + 1);
  std::shared_ptr<PodRecord> rec = FindRecord(key);

  auto got = store_.Get(api::PodResource(), ns, name);
  if (!got) {
    if (got.error().code != Code::kNotFound) return now + kStoreRetry;
    // The pod is gone (its finalizer was removed by someone else, or it never had one).
    return rec ? Forget(key, rec) : std::nullopt;
  }
  Json pod = std::move(*got);
  if (rec && rec->pod.uid != GetString(pod, "metadata.uid")) {
    // Same name, new pod: the old sandbox belongs to a pod that no longer exists.
    if (Next retry = Forget(key, rec)) return retry;
    rec.reset();
  }

  const std::string node = GetString(pod, "spec.nodeName");
  if (node.empty() && !options_.bind_unbound) {
    return rec ? Forget(key, rec) : std::nullopt;  // a scheduler binds it, maybe here
  } else if (node.empty() && !api::IsDeleting(pod)) {
    BeginOwnWrite(key);
    auto bound = writer_.Bind(std::move(pod), options_.node_name);
    EndOwnWrite(key, bound ? &*bound : nullptr);
    if (!bound) return AfterWriteError(bound.error(), "binding pod", key);
    ASB_LOG(DEBUG, "node: bound pod", "pod", key, "node", options_.node_name);
    pod = std::move(*bound);
    events_.Scheduled(pod);
  } else if (node != options_.node_name) {
    return rec ? Forget(key, rec) : std::nullopt;
  }

  if (api::IsDeleting(pod)) return HandleDeletion(key, pod);

  if (!rec) rec = NewRecord(key, pod);

  // What to run, and with which runtime. A pod the node can't run fails for good.
  auto plan = ParsePod(pod);
  runtime::Runtime* rt = nullptr;
  if (!plan) {
    rec->view.failure = plan.error();
  } else {
    rec->view.qos_class = plan->qos_class;
    PodFailure failure;
    rt = runtimes_.For(plan->runtime_class, &failure);
    if (rt == nullptr) rec->view.failure = failure;
  }
  if (rec->view.failure) {
    if (rec->sandbox.exists) {
      if (!runtimes_.StopEverywhere(rec->sandbox.id, milliseconds(0))) return now + kStoreRetry;
      rec->sandbox.exists = false;
      SetRunning(*rec, nullptr, false);
    }
    return WriteStatusThen(pod, *rec, std::nullopt);
  }
  if (Finished(rec->view)) return WriteStatusThen(pod, *rec, std::nullopt);

  // The finalizer goes on before anything is started, so a deletion always waits for teardown.
  if (!HasSandboxFinalizer(pod)) {
    if (simulated_) MarkSimulated(pod);  // in the same write: no extra request per pod
    BeginOwnWrite(key);
    auto updated = writer_.AddFinalizer(pod);
    if (!updated) {
      EndOwnWrite(key, nullptr);
      return AfterWriteError(updated.error(), "adding finalizer", key);
    }
    pod = std::move(*updated);
    EndOwnWrite(key, &pod);
  }

  Next next;
  if (rec->sandbox.exists) next = SyncRunning(*rec, pod, *plan);
  if (!rec->sandbox.exists && !Finished(rec->view)) {
    next = rec->restart.MayStart(timers_.Now()) ? StartSandbox(*rec, pod, *plan, rt)
                                                : PullBackOff(*rec, pod, *plan);
  }
  return WriteStatusThen(pod, *rec, next);
}

NodeAgent::Next NodeAgent::PullBackOff(PodRecord& rec, const Json& pod, const PodPlan& plan) {
  ContainerView& c = rec.view.container;
  if (c.state == ContainerView::State::kWaiting && c.waiting_reason == kReasonErrImagePull) {
    // The kubelet's wording while it waits out the pull back-off.
    c.waiting_reason = kReasonImagePullBackOff;
    c.waiting_message =
        "Back-off pulling image \"" + plan.container.image + "\": " + c.waiting_message;
    events_.Normal(pod, "BackOff", "Back-off pulling image \"" + plan.container.image + "\"");
    events_.Warning(pod, "Failed", "Error: ImagePullBackOff");
  }
  return rec.restart.next_start_at();
}

NodeAgent::Next NodeAgent::StartSandbox(PodRecord& rec, const Json& pod, const PodPlan& plan,
                                        runtime::Runtime* rt) {
  ContainerView& c = rec.view.container;
  if (rec.view.start_time == SystemTime{}) rec.view.start_time = clock_.Now();

  auto prepared = preparer_.Prepare(plan);
  if (!prepared && prepared.error().kind == PrepareFailure::Kind::kPull) {
    // Kubernetes: ErrImagePull on a failed pull, ImagePullBackOff while waiting to retry.
    c.state = ContainerView::State::kWaiting;
    c.waiting_reason = kReasonErrImagePull;
    c.waiting_message = prepared.error().message;
    milliseconds delay = rec.restart.OnPullFailed(timers_.Now());
    ASB_LOG(WARN, "node: image pull failed", "pod", rec.pod.key, "image", plan.container.image,
            "error", c.waiting_message, "retry_ms", delay.count());
    events_.Warning(pod, "Failed",
                    "Failed to pull image \"" + plan.container.image + "\": " + c.waiting_message);
    events_.Warning(pod, "Failed", "Error: ErrImagePull");
    // Wake once more before the retry to show ImagePullBackOff, as the kubelet's next sync does.
    return std::min(rec.restart.next_start_at(),
                    timers_.Now() + std::min(delay / 2, milliseconds(1000)));
  }
  rec.restart.OnPullSucceeded();
  if (prepared && prepared->pull.downloaded) {
    char took[32];
    std::snprintf(took, sizeof(took), "%.3fs",
                  static_cast<double>(prepared->pull.took.count()) / 1000.0);
    events_.Normal(pod, "Pulling", "Pulling image \"" + plan.container.image + "\"");
    events_.Normal(pod, "Pulled",
                   "Successfully pulled image \"" + plan.container.image + "\" in " + took +
                       ". Image size: " + std::to_string(prepared->pull.bytes) + " bytes.");
  } else {
    events_.Normal(pod, "Pulled",
                   "Container image \"" + plan.container.image + "\" already present on machine");
  }

  auto start_failed = [&](const std::string& message) -> Next {
    c.state = ContainerView::State::kWaiting;
    c.waiting_reason = kReasonRunContainerError;
    c.waiting_message = message;
    milliseconds delay = rec.restart.OnStartFailed(timers_.Now());
    ASB_LOG(WARN, "node: starting sandbox failed", "pod", rec.pod.key, "error", message, "retry_ms",
            delay.count());
    events_.Warning(pod, "Failed", "Error: " + message);
    return rec.restart.next_start_at();
  };
  if (!prepared) return start_failed(prepared.error().message);
  runtime::SandboxSpec& spec = prepared->spec;
  if (options_.pod_volumes) {
    auto binds = options_.pod_volumes(pod);
    if (!binds) return start_failed("mounting volumes: " + binds.error().message);
    spec.rootfs.binds.insert(spec.rootfs.binds.end(), binds->begin(), binds->end());
  }

  // A leftover with this id (a failed earlier attempt, a dead sandbox from before a restart)
  // would make Start fail with kAlreadyExists; Stop is idempotent.
  if (auto st = runtimes_.StopEverywhere(spec.id, milliseconds(0)); !st) {
    return start_failed("removing the previous sandbox: " + st.error().message);
  }
  c.state = ContainerView::State::kWaiting;
  c.waiting_reason = kReasonContainerCreating;
  c.waiting_message.clear();
  // A pool member boots idle-class, behind whatever a user is waiting for (pool_member.h).
  const bool member = IsUnclaimedPoolMember(pod);
  spec.limits.cpu_idle = member;
  // Measured on the steady clock: a log figure, not a decision.
  const auto t0 = std::chrono::steady_clock::now();
  if (auto st = rt->Start(spec); !st) {
    return start_failed(std::string(rt->name()) + " runtime: " + st.error().message);
  }
  const auto start_took = std::chrono::steady_clock::now() - t0;
  RecordSandboxStart(rt->name(), start_took);
  const auto start_ms = std::chrono::duration_cast<milliseconds>(start_took).count();
  const SystemTime now = timers_.Now();
  if (rec.restart.OnStarted(now)) ++c.restart_count;
  rec.sandbox.exists = true;
  rec.sandbox.id = spec.id;
  rec.sandbox.cpu_normal = !member;
  SetRunning(rec, rt, true);
  events_.Normal(pod, "Created", "Created container " + plan.container.name);
  events_.Normal(pod, "Started", "Started container " + plan.container.name);
  c.state = ContainerView::State::kRunning;
  c.started_at = clock_.Now();
  c.image_id = prepared->image_id;
  c.container_id = std::string(rt->name()) + "://" + spec.id;
  c.ready = false;
  if (const std::optional<ProbeSpec>& probe = plan.container.readiness) {
    rec.probe.Start(*probe, now + probe->initial_delay, /*ready=*/false);
  }
  ASB_LOG(INFO, "node: sandbox started", "pod", rec.pod.key, "runtime", rt->name(), "sandbox",
          spec.id, "restarts", c.restart_count, "start_ms", start_ms);
  return SyncRunning(rec, pod, plan);
}

NodeAgent::Next NodeAgent::SyncRunning(PodRecord& rec, const Json& pod, const PodPlan& plan) {
  ContainerView& c = rec.view.container;
  runtime::Runtime* rt = rec.sandbox.runtime;
  auto st = rt->Inspect(rec.sandbox.id);
  runtime::SandboxStatus status;
  if (!st) {
    if (st.error().code != Code::kNotFound) {
      ASB_LOG(WARN, "node: inspect failed", "pod", rec.pod.key, "error", st.error().message);
      return timers_.Now() + options_.exit_check_interval;
    }
    status.state = runtime::SandboxState::kExited;
    status.exit_code = 137;
    status.message = "the sandbox disappeared";
  } else {
    status = *st;
  }
  const SystemTime now = timers_.Now();
  if (status.state == runtime::SandboxState::kRunning && !rec.sandbox.cpu_normal &&
      !IsUnclaimedPoolMember(pod)) {
    // Claimed (or adopted after a restart and not a member): one cgroup write, on this worker,
    // not on the claim's path. A failure is retried at the next sync.
    if (auto promoted = rt->SetCpuIdle(rec.sandbox.id, false, plan.container.limits); promoted) {
      rec.sandbox.cpu_normal = true;
      ASB_LOG(DEBUG, "node: sandbox cpu share normal", "pod", rec.pod.key);
    } else {
      ASB_LOG(WARN, "node: cannot make the sandbox's cpu share normal", "pod", rec.pod.key, "error",
              promoted.error().message);
    }
  }
  if (status.state == runtime::SandboxState::kRunning) {
    // The runtime has no exit events: a running sandbox is inspected every exit_check_interval,
    // or sooner when its probe is due.
    Next next = now + options_.exit_check_interval;
    const std::optional<ProbeSpec>& probe = plan.container.readiness;
    // A simulated sandbox has nothing to probe: Ready at once, as kwok marks its pods.
    if (!probe || rt->simulated()) {
      c.ready = true;
      return next;
    }
    if (rec.probe.Due(now)) {
      ProbeOutcome out = RunProbe(*rt, rec.sandbox.id, *probe);
      switch (rec.probe.OnResult(out.success, timers_.Now())) {
        case ProbeTracker::Change::kBecameReady:
          ASB_LOG(DEBUG, "node: pod ready", "pod", rec.pod.key);
          break;
        case ProbeTracker::Change::kBecameUnready:
          ASB_LOG(INFO, "node: readiness probe failed", "pod", rec.pod.key, "error", out.message);
          events_.Warning(pod, "Unhealthy", "Readiness probe failed: " + out.message);
          break;
        case ProbeTracker::Change::kNone:
          break;
      }
      c.ready = rec.probe.ready();
    }
    return Earliest(next, rec.probe.next_at());
  }

  // The container exited: free the sandbox now (restart or not, its resources are no use), then
  // restart per policy with back-off, or finish the pod.
  TerminatedState t;
  t.exit_code = status.exit_code;
  t.signal = status.term_signal;
  if (t.signal != 0 && t.exit_code == 0) t.exit_code = 128 + t.signal;
  t.reason = TerminatedReason(t.exit_code, status.oom_killed);
  t.message = status.message;
  t.started_at = c.state == ContainerView::State::kRunning ? c.started_at : status.started_at;
  t.finished_at = status.finished_at != SystemTime{} ? status.finished_at : clock_.Now();
  if (t.started_at == SystemTime{}) t.started_at = status.started_at;
  if (options_.on_container_exited && rt != nullptr)
    options_.on_container_exited(rec.pod.uid, rec.sandbox.id, rt->name());
  if (auto s = runtimes_.StopEverywhere(rec.sandbox.id, milliseconds(0)); !s) {
    ASB_LOG(WARN, "node: removing exited sandbox failed", "pod", rec.pod.key, "error",
            s.error().message);
    return now + kStoreRetry;
  }
  rec.sandbox.exists = false;
  SetRunning(rec, nullptr, false);
  c.ready = false;
  ASB_LOG(INFO, "node: container exited", "pod", rec.pod.key, "exit_code", t.exit_code, "signal",
          t.signal, "reason", t.reason, "message", t.message, "inspect",
          st ? "ok" : st.error().message);
  if (!ShouldRestart(plan.restart_policy, t.exit_code)) {
    c.state = ContainerView::State::kTerminated;
    c.terminated = t;
    return std::nullopt;
  }
  milliseconds delay = rec.restart.OnExited(now);
  c.last_terminated = t;
  c.state = ContainerView::State::kWaiting;
  c.waiting_reason = kReasonCrashLoopBackOff;
  c.waiting_message = "back-off " + std::to_string(delay.count()) +
                      "ms restarting failed container=" + plan.container.name +
                      " pod=" + rec.pod.key;
  events_.Warning(pod, "BackOff",
                  "Back-off restarting failed container " + plan.container.name + " in pod " +
                      rec.pod.name + "_" + rec.pod.ns + "(" + rec.pod.uid + ")");
  return rec.restart.next_start_at();
}

NodeAgent::Next NodeAgent::HandleDeletion(const std::string& key, const Json& pod) {
  const SystemTime now = timers_.Now();
  std::shared_ptr<PodRecord> rec = FindRecord(key);
  const std::string uid = GetString(pod, "metadata.uid");
  const std::string id = rec ? rec->sandbox.id : SandboxIdForUid(uid);
  if (!HasSandboxFinalizer(pod)) {
    // Not ours to hold up; make sure nothing of ours runs anyway.
    return rec ? Forget(key, rec) : std::nullopt;
  }
  // Grace: the delete's (metadata.deletionGracePeriodSeconds), else the pod's
  // terminationGracePeriodSeconds, else 30 s. A deletionGracePeriodSeconds of 0 is taken as
  // "not given": the store writes 0 on every deletion that waits for finalizers, and honouring it
  // would SIGKILL every sandbox without the grace its pod asked for.
  milliseconds grace = std::chrono::seconds(30);
  if (const Json* g = Find(pod, "spec.terminationGracePeriodSeconds");
      g && g->is_number_integer() && *g >= 0) {
    grace = std::chrono::seconds(g->get<int64_t>());
  }
  if (const Json* g = Find(pod, "metadata.deletionGracePeriodSeconds");
      g && g->is_number_integer() && *g > 0) {
    grace = std::chrono::seconds(g->get<int64_t>());
  }
  if (options_.max_termination_grace > milliseconds(0)) {
    grace = std::min(grace, options_.max_termination_grace);
  }
  std::string stopped_runtime;  // for the stop latency metric: only a sandbox that ran
  if (rec && rec->sandbox.runtime) stopped_runtime = rec->sandbox.runtime->name();
  if (rec) {
    if (rec->sandbox.exists) {
      const Json* containers = Find(pod, "spec.containers");
      std::string container = containers && containers->is_array() && !containers->empty()
                                  ? (*containers)[0].value("name", "")
                                  : "";
      events_.Normal(pod, "Killing", "Stopping container " + container);
    }
    SetRunning(*rec, nullptr, false);
  }
  const auto stop_t0 = std::chrono::steady_clock::now();
  if (auto st = runtimes_.StopEverywhere(id, grace); !st) {
    ASB_LOG(WARN, "node: stopping sandbox failed; will retry", "pod", key, "error",
            st.error().message);
    return now + options_.backoff_base / 10;
  }
  if (!stopped_runtime.empty())
    RecordSandboxStop(stopped_runtime, std::chrono::steady_clock::now() - stop_t0);
  // Forget the pod before the finalizer goes: once the store deletes it, nothing here may still
  // claim to know it (DialPod answers kNotFound).
  EraseRecord(key);
  if (auto removed = writer_.RemoveFinalizer(GetString(pod, "metadata.namespace"),
                                             GetString(pod, "metadata.name"), uid);
      !removed) {
    ASB_LOG(WARN, "node: removing finalizer failed", "pod", key, "error", removed.error().message);
    return now + kStoreRetry;
  }
  ASB_LOG(INFO, "node: sandbox torn down", "pod", key, "sandbox", id);
  return std::nullopt;
}

NodeAgent::Next NodeAgent::AfterWriteError(const Error& error, const std::string& what,
                                           const std::string& key) {
  if (error.code == Code::kAborted) return timers_.Now();  // changed meanwhile: re-read
  if (error.code == Code::kNotFound) return std::nullopt;
  ASB_LOG(WARN, "node: " + what + " failed", "pod", key, "error", error.message);
  return timers_.Now() + kStoreRetry;
}

NodeAgent::Next NodeAgent::WriteStatusThen(Json& pod, const PodRecord& rec, Next next) {
  BeginOwnWrite(rec.pod.key);
  auto written = writer_.WriteStatus(pod, rec.view, clock_.Now());
  EndOwnWrite(rec.pod.key, written ? &pod : nullptr);
  if (!written) return AfterWriteError(written.error(), "writing pod status", rec.pod.key);
  return next;
}

void NodeAgent::BeginOwnWrite(const std::string& key) {
  std::lock_guard l(mu_);
  writing_[key];
}

void NodeAgent::EndOwnWrite(const std::string& key, const Json* pod) {
  std::optional<int64_t> revision;
  if (pod != nullptr) {
    const std::string rv = GetString(*pod, "metadata.resourceVersion");
    int64_t value = 0;
    // (A write that changed nothing keeps the revision; its echo never comes.)
    if (std::from_chars(rv.data(), rv.data() + rv.size(), value).ec == std::errc()) {
      revision = value;
    }
  }
  std::lock_guard l(mu_);
  auto w = writing_.find(key);
  if (w == writing_.end()) return;
  std::vector<int64_t> held = std::move(w->second);
  writing_.erase(w);
  if (revision) {
    std::deque<int64_t>& own = own_writes_[key];
    if (own.empty() || own.back() < *revision) own.push_back(*revision);
  }
  // Under load an echo often came first, or after the next write, and was synced again for
  // nothing (an extra Inspect at a moment the agent did not choose: NodeAgentClockTest saw a
  // 60 s exit check happen at 30 s).
  bool foreign = false;
  for (int64_t rv : held) foreign = !IsOwnEcho(key, rv) || foreign;
  if (foreign) queue_.Add(key);
}

bool NodeAgent::IsOwnEcho(const std::string& key, int64_t revision) {
  auto it = own_writes_.find(key);
  if (it == own_writes_.end()) return false;
  std::deque<int64_t>& own = it->second;
  while (!own.empty() && own.front() < revision) own.pop_front();
  const bool echo = !own.empty() && own.front() == revision;
  if (echo) own.pop_front();
  if (own.empty()) own_writes_.erase(it);
  return echo;
}

// ---------------------------------------------------------------------------------------------
// Restart recovery (recovery.h decides; this turns its findings into records).

Status NodeAgent::Recover() {
  ASB_ASSIGN_OR_RETURN(store::ListResult list, store_.List(api::PodResource(), "", {}));
  ASB_RETURN_IF_ERROR(CheckPodsMatchMode(list.items, options_.node_name, simulated_));
  Recovery recovery(runtimes_, options_.node_name, options_.orphan_grace);
  ASB_ASSIGN_OR_RETURN(std::vector<RecoveredSandbox> found, recovery.Run(list.items));
  for (const RecoveredSandbox& r : found) {
    const std::string key = PodKey(*r.pod);
    std::shared_ptr<PodRecord> rec = NewRecord(key, *r.pod);
    if (!r.running) {
      rec->restart.MarkHasRun();  // Sync starts the pod again as a restart
      continue;
    }
    // Re-adopt: keep its start time and readiness; the probe confirms it right away.
    const SystemTime now = timers_.Now();
    rec->sandbox.exists = true;
    rec->sandbox.id = r.sandbox_id;
    SetRunning(*rec, r.runtime, true);
    rec->restart.OnAdopted(now);
    ContainerView& c = rec->view.container;
    c.state = ContainerView::State::kRunning;
    if (c.started_at == SystemTime{}) {
      c.started_at = r.running->started_at != SystemTime{} ? r.running->started_at : clock_.Now();
    }
    c.container_id = std::string(r.runtime->name()) + "://" + r.sandbox_id;
    if (auto plan = ParsePod(*r.pod); plan && plan->container.readiness) {
      rec->probe.Start(*plan->container.readiness, now, c.ready);
    }
    ASB_LOG(INFO, "node: re-adopted sandbox", "pod", key, "sandbox", r.sandbox_id);
  }
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Records.

std::shared_ptr<PodRecord> NodeAgent::FindRecord(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : it->second;
}

std::shared_ptr<PodRecord> NodeAgent::NewRecord(const std::string& key, const Json& pod) {
  PodRecordOptions o{.backoff = {.base = options_.backoff_base, .cap = options_.backoff_cap},
                     .first_probe_interval = options_.first_probe_interval};
  auto rec = std::make_shared<PodRecord>(RestorePodRecord(key, pod, o, clock_.Now()));
  std::lock_guard l(mu_);
  records_[key] = rec;
  return rec;
}

void NodeAgent::EraseRecord(const std::string& key) {
  std::string uid;
  {
    std::lock_guard l(mu_);
    auto it = records_.find(key);
    if (it == records_.end()) return;
    uid = it->second->pod.uid;
    records_.erase(it);
    own_writes_.erase(key);
  }
  if (options_.on_pod_forgotten && !uid.empty()) options_.on_pod_forgotten(uid);
}

void NodeAgent::SetRunning(PodRecord& rec, runtime::Runtime* rt, bool running) {
  std::lock_guard l(mu_);
  if (rt != nullptr) rec.sandbox.runtime = rt;
  rec.sandbox.running = running;
  // Addresses are the sandbox's: read when it (re)starts or is adopted, kept once it stops.
  if (running && rec.sandbox.runtime != nullptr) {
    rec.view.pod_ips = rec.sandbox.runtime->PodIPs(rec.sandbox.id);
  }
}

NodeAgent::Next NodeAgent::Forget(const std::string& key, const std::shared_ptr<PodRecord>& rec) {
  if (!runtimes_.StopEverywhere(rec->sandbox.id, milliseconds(0))) {
    return timers_.Now() + kStoreRetry;
  }
  EraseRecord(key);
  return std::nullopt;
}

}  // namespace asb::node
