#include "node/node_agent.h"

#include <algorithm>
#include <set>

#include "api/resource.h"
#include "base/log.h"
#include "node/probe.h"
#include "store/store_util.h"

namespace asb::node {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// A container that ran this long before exiting starts its back-off over (kubelet: 10 min).
constexpr auto kBackoffReset = std::chrono::minutes(10);
// Retry delay after a store error (conflicts retry at once).
constexpr milliseconds kStoreRetry{200};

std::string PodKey(const Json& pod) {
  return GetString(pod, "metadata.namespace", "default") + "/" + GetString(pod, "metadata.name");
}

bool HasFinalizer(const Json& pod) {
  const Json* f = Find(pod, "metadata.finalizers");
  if (f == nullptr || !f->is_array()) return false;
  return std::find(f->begin(), f->end(), Json(kSandboxFinalizer)) != f->end();
}

bool BeingDeleted(const Json& pod) {
  const Json* d = Find(pod, "metadata.deletionTimestamp");
  return d != nullptr && !d->is_null();
}

std::optional<SystemTime> TimeAt(const Json& j, std::string_view path) {
  std::string s = GetString(j, path);
  if (s.empty()) return std::nullopt;
  return ParseRfc3339(s);
}

std::optional<TerminatedState> TerminatedFromJson(const Json* t) {
  if (t == nullptr || !t->is_object()) return std::nullopt;
  TerminatedState s;
  if (const Json* e = Find(*t, "exitCode"); e && e->is_number_integer()) s.exit_code = *e;
  if (const Json* e = Find(*t, "signal"); e && e->is_number_integer()) s.signal = *e;
  s.reason = GetString(*t, "reason");
  s.message = GetString(*t, "message");
  s.started_at = TimeAt(*t, "startedAt").value_or(SystemTime{});
  s.finished_at = TimeAt(*t, "finishedAt").value_or(SystemTime{});
  return s;
}

std::optional<SteadyClock::time_point> Earliest(std::optional<SteadyClock::time_point> a,
                                                std::optional<SteadyClock::time_point> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

}  // namespace

NodeAgent::NodeAgent(store::Store& store, std::map<std::string, runtime::Runtime*> runtimes,
                     ImageResolver& images, NodeOptions options)
    : store_(store),
      runtimes_(std::move(runtimes)),
      images_(images),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()),
      events_(store_, clock_, options_.node_name) {}

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
  ASB_RETURN_IF_ERROR(Recover());
  started_ = true;
  queue_.Start(options_.workers, [this](const std::string& key) { Sync(key); });
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
    if (!it->second->running || it->second->runtime == nullptr) {
      return MakeError(Code::kUnavailable, "pod " + ns + "/" + pod + " is not running");
    }
    rt = it->second->runtime;
    id = it->second->sandbox_id;
  }
  return rt->DialPort(id, port);
}

Result<NodeAgent::PodSandbox> NodeAgent::SandboxOf(const std::string& ns, const std::string& pod) {
  std::lock_guard l(mu_);
  auto it = records_.find(ns + "/" + pod);
  if (it == records_.end() || it->second->sandbox_id.empty())
    return MakeError(Code::kNotFound, "pod " + ns + "/" + pod + " has no sandbox on this node");
  const runtime::Runtime* rt = it->second->runtime;
  return PodSandbox{it->second->uid, it->second->sandbox_id, rt ? std::string(rt->name()) : "",
                    it->second->running};
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
    return node.empty() || node == options_.node_name;
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
  std::optional<SteadyTime> next = SyncPod(key);
  if (next && !stopping_) queue_.AddAt(key, *next);
}

std::optional<NodeAgent::SteadyTime> NodeAgent::SyncPod(const std::string& key) {
  const auto now = SteadyClock::now();
  size_t slash = key.find('/');
  const std::string ns = key.substr(0, slash);
  const std::string name = key.substr(slash + 1);
  std::shared_ptr<PodRecord> rec = FindRecord(key);

  auto got = store_.Get(api::PodResource(), ns, name);
  if (!got) {
    if (got.error().code != Code::kNotFound) return now + kStoreRetry;
    // The pod is gone (its finalizer was removed by someone else, or it never had one).
    if (rec) {
      if (!StopEverywhere(rec->sandbox_id, milliseconds(0))) return now + kStoreRetry;
      EraseRecord(key);
    }
    return std::nullopt;
  }
  Json pod = std::move(*got);
  const std::string uid = GetString(pod, "metadata.uid");
  if (rec && rec->uid != uid) {
    // Same name, new pod: the old sandbox belongs to a pod that no longer exists.
    if (!StopEverywhere(rec->sandbox_id, milliseconds(0))) return now + kStoreRetry;
    EraseRecord(key);
    rec.reset();
  }

  const std::string node = GetString(pod, "spec.nodeName");
  if (node.empty() && !BeingDeleted(pod)) {
    // Bind: this is the only node.
    pod["spec"]["nodeName"] = options_.node_name;
    auto bound = store_.Update(api::PodResource(), pod);
    if (!bound) {
      if (bound.error().code == Code::kAborted) return now;  // changed meanwhile: re-read
      if (bound.error().code == Code::kNotFound) return std::nullopt;
      ASB_LOG(WARN, "node: binding pod failed", "pod", key, "error", bound.error().message);
      return now + kStoreRetry;
    }
    ASB_LOG(DEBUG, "node: bound pod", "pod", key, "node", options_.node_name);
    pod = std::move(*bound);
    events_.Scheduled(pod);
  } else if (node != options_.node_name) {
    if (rec) {
      if (!StopEverywhere(rec->sandbox_id, milliseconds(0))) return now + kStoreRetry;
      EraseRecord(key);
    }
    return std::nullopt;
  }

  if (BeingDeleted(pod)) return HandleDeletion(key, pod);

  if (!rec) rec = NewRecord(key, pod);

  // What to run, and with which runtime. A pod the node can't run fails for good.
  auto plan = ParsePod(pod);
  runtime::Runtime* rt = nullptr;
  if (!plan) {
    rec->view.failure = plan.error();
  } else {
    rec->view.qos_class = plan->qos_class;
    PodFailure failure;
    rt = RuntimeFor(plan->runtime_class, &failure);
    if (rt == nullptr) rec->view.failure = failure;
  }
  if (rec->view.failure) {
    if (rec->sandbox_exists) {
      if (!StopEverywhere(rec->sandbox_id, milliseconds(0))) return now + kStoreRetry;
      rec->sandbox_exists = false;
      SetRunning(*rec, nullptr, false);
    }
    if (!WriteStatus(pod, rec->view)) return now;
    return std::nullopt;
  }

  const std::string phase = ComputePhase(rec->view);
  if (phase == "Succeeded" || phase == "Failed") {
    if (!WriteStatus(pod, rec->view)) return now;
    return std::nullopt;
  }

  // The finalizer goes on before anything is started, so a deletion always waits for teardown.
  if (!HasFinalizer(pod)) {
    if (!pod["metadata"].contains("finalizers") || !pod["metadata"]["finalizers"].is_array()) {
      pod["metadata"]["finalizers"] = Json::array();
    }
    pod["metadata"]["finalizers"].push_back(kSandboxFinalizer);
    auto updated = store_.Update(api::PodResource(), pod);
    if (!updated) {
      if (updated.error().code == Code::kAborted) return now;
      if (updated.error().code == Code::kNotFound) return std::nullopt;
      ASB_LOG(WARN, "node: adding finalizer failed", "pod", key, "error", updated.error().message);
      return now + kStoreRetry;
    }
    pod = std::move(*updated);
  }

  std::optional<SteadyTime> next;
  if (rec->sandbox_exists) {
    next = SyncRunning(*rec, pod, *plan);
  }
  if (!rec->sandbox_exists && ComputePhase(rec->view) != "Succeeded" &&
      ComputePhase(rec->view) != "Failed") {
    if (SteadyClock::now() >= rec->next_start_at) {
      next = StartSandbox(*rec, pod, *plan, rt);
    } else {
      next = rec->next_start_at;
    }
  }
  if (!WriteStatus(pod, rec->view)) return SteadyClock::now();
  return next;
}

std::optional<NodeAgent::SteadyTime> NodeAgent::StartSandbox(PodRecord& rec, const Json& pod,
                                                             const PodPlan& plan,
                                                             runtime::Runtime* rt) {
  ContainerView& c = rec.view.container;
  if (rec.view.start_time == SystemTime{}) rec.view.start_time = clock_.Now();

  auto image = images_.Resolve(plan.container.image);
  if (!image) {
    // Kubernetes: ErrImagePull on a failed pull, ImagePullBackOff while waiting to retry.
    c.state = ContainerView::State::kWaiting;
    c.waiting_reason = kReasonErrImagePull;
    c.waiting_message = "pulling image \"" + plan.container.image + "\": " + image.error().message;
    milliseconds delay = Backoff(rec.pull_failures++);
    rec.next_start_at = SteadyClock::now() + delay;
    ASB_LOG(WARN, "node: image pull failed", "pod", rec.key, "image", plan.container.image, "error",
            image.error().message, "retry_ms", delay.count());
    events_.Warning(pod, "Failed", c.waiting_message);
    return rec.next_start_at;
  }
  rec.pull_failures = 0;
  events_.Normal(pod, "Pulled",
                 "Container image \"" + plan.container.image + "\" already present on machine");

  auto start_failed = [&](const std::string& message) {
    c.state = ContainerView::State::kWaiting;
    c.waiting_reason = kReasonRunContainerError;
    c.waiting_message = message;
    milliseconds delay = Backoff(rec.consecutive_restarts++);
    rec.next_start_at = SteadyClock::now() + delay;
    ASB_LOG(WARN, "node: starting sandbox failed", "pod", rec.key, "error", message, "retry_ms",
            delay.count());
    events_.Warning(pod, "Failed", "Error: " + message);
    return rec.next_start_at;
  };
  auto spec = BuildSandboxSpec(plan, *image);
  if (!spec) return start_failed(spec.error().message);

  // A leftover with this id (a failed earlier attempt, a dead sandbox from before a restart)
  // would make Start fail with kAlreadyExists; Stop is idempotent.
  if (auto st = StopEverywhere(spec->id, milliseconds(0)); !st) {
    return start_failed("removing the previous sandbox: " + st.error().message);
  }
  c.state = ContainerView::State::kWaiting;
  c.waiting_reason = kReasonContainerCreating;
  c.waiting_message.clear();
  const auto t0 = SteadyClock::now();
  if (auto st = rt->Start(*spec); !st) {
    return start_failed(std::string(rt->name()) + " runtime: " + st.error().message);
  }
  const auto start_ms = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t0).count();
  if (rec.has_run) ++c.restart_count;
  rec.has_run = true;
  rec.sandbox_exists = true;
  rec.sandbox_id = spec->id;
  SetRunning(rec, rt, true);
  rec.started_steady = SteadyClock::now();
  events_.Normal(pod, "Created", "Created container " + plan.container.name);
  events_.Normal(pod, "Started", "Started container " + plan.container.name);
  c.state = ContainerView::State::kRunning;
  c.started_at = clock_.Now();
  c.image_id = image->image_id.empty() ? plan.container.image : image->image_id;
  c.container_id = std::string(rt->name()) + "://" + spec->id;
  c.ready = false;
  rec.ever_ready = false;
  rec.successes = rec.failures = 0;
  rec.fast_interval = options_.first_probe_interval;
  const auto now = SteadyClock::now();
  rec.next_probe_at =
      now + (plan.container.readiness ? plan.container.readiness->initial_delay : milliseconds(0));
  ASB_LOG(INFO, "node: sandbox started", "pod", rec.key, "runtime", rt->name(), "sandbox", spec->id,
          "restarts", c.restart_count, "start_ms", start_ms);
  return SyncRunning(rec, pod, plan);
}

std::optional<NodeAgent::SteadyTime> NodeAgent::SyncRunning(PodRecord& rec, const Json& pod,
                                                            const PodPlan& plan) {
  ContainerView& c = rec.view.container;
  runtime::Runtime* rt = rec.runtime;
  auto st = rt->Inspect(rec.sandbox_id);
  runtime::SandboxStatus status;
  if (!st) {
    if (st.error().code != Code::kNotFound) {
      ASB_LOG(WARN, "node: inspect failed", "pod", rec.key, "error", st.error().message);
      return SteadyClock::now() + options_.exit_check_interval;
    }
    status.state = runtime::SandboxState::kExited;
    status.exit_code = 137;
    status.message = "the sandbox disappeared";
  } else {
    status = *st;
  }
  const auto now = SteadyClock::now();
  if (status.state == runtime::SandboxState::kRunning) {
    std::optional<SteadyTime> next = now + options_.exit_check_interval;
    const std::optional<ProbeSpec>& probe = plan.container.readiness;
    if (!probe) {
      c.ready = true;
      return next;
    }
    if (now >= rec.next_probe_at) {
      ProbeOutcome out = RunProbe(*rt, rec.sandbox_id, *probe);
      if (out.success) {
        rec.failures = 0;
        if (++rec.successes >= probe->success_threshold) {
          if (!c.ready) ASB_LOG(DEBUG, "node: pod ready", "pod", rec.key);
          c.ready = true;
          rec.ever_ready = true;
        }
      } else {
        rec.successes = 0;
        if (++rec.failures >= probe->failure_threshold && c.ready) {
          ASB_LOG(INFO, "node: readiness probe failed", "pod", rec.key, "error", out.message);
          events_.Warning(pod, "Unhealthy", "Readiness probe failed: " + out.message);
          c.ready = false;
        }
      }
      const auto after = SteadyClock::now();
      if (!rec.ever_ready) {
        rec.next_probe_at = after + rec.fast_interval;
        rec.fast_interval = std::min<milliseconds>(rec.fast_interval * 2, probe->period);
      } else {
        rec.next_probe_at = after + probe->period;
      }
    }
    return Earliest(next, rec.next_probe_at);
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
    options_.on_container_exited(rec.uid, rec.sandbox_id, rt->name());
  if (auto s = StopEverywhere(rec.sandbox_id, milliseconds(0)); !s) {
    ASB_LOG(WARN, "node: removing exited sandbox failed", "pod", rec.key, "error",
            s.error().message);
    return now + kStoreRetry;
  }
  rec.sandbox_exists = false;
  SetRunning(rec, nullptr, false);
  c.ready = false;
  ASB_LOG(INFO, "node: container exited", "pod", rec.key, "exit_code", t.exit_code, "signal",
          t.signal, "reason", t.reason, "message", t.message, "inspect",
          st ? "ok" : st.error().message);
  if (!ShouldRestart(plan.restart_policy, t.exit_code)) {
    c.state = ContainerView::State::kTerminated;
    c.terminated = t;
    return std::nullopt;
  }
  if (rec.started_steady != SteadyTime{} && now - rec.started_steady >= kBackoffReset) {
    rec.consecutive_restarts = 0;
  }
  milliseconds delay = Backoff(rec.consecutive_restarts++);
  c.last_terminated = t;
  c.state = ContainerView::State::kWaiting;
  c.waiting_reason = kReasonCrashLoopBackOff;
  c.waiting_message = "back-off " + std::to_string(delay.count()) +
                      "ms restarting failed container=" + plan.container.name + " pod=" + rec.key;
  rec.next_start_at = now + delay;
  events_.Warning(pod, "BackOff",
                  "Back-off restarting failed container " + plan.container.name + " in pod " +
                      rec.name + "_" + rec.ns + "(" + rec.uid + ")");
  return rec.next_start_at;
}

std::optional<NodeAgent::SteadyTime> NodeAgent::HandleDeletion(const std::string& key,
                                                               const Json& pod) {
  const auto now = SteadyClock::now();
  std::shared_ptr<PodRecord> rec = FindRecord(key);
  const std::string uid = GetString(pod, "metadata.uid");
  const std::string id = rec ? rec->sandbox_id : SandboxIdForUid(uid);
  if (!HasFinalizer(pod)) {
    // Not ours to hold up; make sure nothing of ours runs anyway.
    if (rec) {
      if (!StopEverywhere(id, milliseconds(0))) return now + kStoreRetry;
      EraseRecord(key);
    }
    return std::nullopt;
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
  if (rec) {
    if (rec->sandbox_exists) {
      const Json* containers = Find(pod, "spec.containers");
      std::string container = containers && containers->is_array() && !containers->empty()
                                  ? (*containers)[0].value("name", "")
                                  : "";
      events_.Normal(pod, "Killing", "Stopping container " + container);
    }
    SetRunning(*rec, nullptr, false);
  }
  if (auto st = StopEverywhere(id, grace); !st) {
    ASB_LOG(WARN, "node: stopping sandbox failed; will retry", "pod", key, "error",
            st.error().message);
    return now + Backoff(0) / 10;
  }
  // Forget the pod before the finalizer goes: once the store deletes it, nothing here may still
  // claim to know it (DialPod answers kNotFound).
  EraseRecord(key);
  auto removed = store::UpdateWithRetry(
      store_, api::PodResource(), GetString(pod, "metadata.namespace"),
      GetString(pod, "metadata.name"), [&](store::Object& obj) -> Status {
        if (GetString(obj, "metadata.uid") != uid) return store::NoChange();
        Json* f = obj["metadata"].contains("finalizers") ? &obj["metadata"]["finalizers"] : nullptr;
        if (f == nullptr || !f->is_array()) return store::NoChange();
        auto it = std::find(f->begin(), f->end(), Json(kSandboxFinalizer));
        if (it == f->end()) return store::NoChange();
        f->erase(it);
        return OkStatus();
      });
  if (!removed && removed.error().code != Code::kNotFound) {
    ASB_LOG(WARN, "node: removing finalizer failed", "pod", key, "error", removed.error().message);
    return now + kStoreRetry;
  }
  ASB_LOG(INFO, "node: sandbox torn down", "pod", key, "sandbox", id);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Restart recovery.

Status NodeAgent::Recover() {
  ASB_ASSIGN_OR_RETURN(store::ListResult list, store_.List(api::PodResource(), "", {}));
  std::map<std::string, const Json*> by_sandbox_id;
  for (const Json& pod : list.items) {
    by_sandbox_id[SandboxIdForUid(GetString(pod, "metadata.uid"))] = &pod;
  }
  std::set<runtime::Runtime*> seen;
  for (const auto& [cls, rt] : runtimes_) {
    if (rt == nullptr || !seen.insert(rt).second) continue;
    auto ids = rt->List();
    if (!ids) {
      return tl::unexpected(ids.error().Wrap("listing " + std::string(rt->name()) + " sandboxes"));
    }
    for (const std::string& id : *ids) {
      auto it = by_sandbox_id.find(id);
      const Json* pod = it == by_sandbox_id.end() ? nullptr : it->second;
      bool ours = pod != nullptr && GetString(*pod, "spec.nodeName") == options_.node_name &&
                  !BeingDeleted(*pod);
      runtime::Runtime* want = nullptr;
      if (ours) {
        auto plan = ParsePod(*pod);
        PodFailure ignored;
        want = plan ? RuntimeFor(plan->runtime_class, &ignored) : nullptr;
        std::string phase = GetString(*pod, "status.phase");
        if (phase == "Succeeded" || phase == "Failed") want = nullptr;
      }
      if (want != rt) {
        // No live pod of ours wants this sandbox here (pods being deleted are torn down by Sync
        // with their own grace period).
        if (pod != nullptr && BeingDeleted(*pod)) continue;
        ASB_LOG(INFO, "node: stopping orphaned sandbox", "runtime", rt->name(), "sandbox", id);
        if (auto st = rt->Stop(id, options_.orphan_grace); !st) {
          ASB_LOG(WARN, "node: stopping orphan failed", "sandbox", id, "error", st.error().message);
        }
        continue;
      }
      auto status = rt->Inspect(id);
      const std::string key = PodKey(*pod);
      std::shared_ptr<PodRecord> rec = NewRecord(key, *pod);
      if (status && status->state == runtime::SandboxState::kRunning) {
        // Re-adopt: keep its start time and readiness; the probe confirms it right away.
        rec->sandbox_exists = true;
        rec->has_run = true;
        rec->sandbox_id = id;
        SetRunning(*rec, rt, true);
        rec->started_steady = SteadyClock::now();
        ContainerView& c = rec->view.container;
        c.state = ContainerView::State::kRunning;
        if (c.started_at == SystemTime{}) {
          c.started_at = status->started_at != SystemTime{} ? status->started_at : clock_.Now();
        }
        c.container_id = std::string(rt->name()) + "://" + id;
        rec->fast_interval = options_.first_probe_interval;
        rec->ever_ready = c.ready;
        rec->next_probe_at = SteadyClock::now();
        ASB_LOG(INFO, "node: re-adopted sandbox", "pod", key, "sandbox", id);
      } else {
        // Dead leftover: remove it; Sync starts the pod again as a restart.
        if (auto st = rt->Stop(id, milliseconds(0)); !st) {
          ASB_LOG(WARN, "node: removing dead sandbox failed", "sandbox", id, "error",
                  st.error().message);
        }
        rec->has_run = true;
      }
    }
  }
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Records and helpers.

std::shared_ptr<NodeAgent::PodRecord> NodeAgent::FindRecord(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : it->second;
}

std::shared_ptr<NodeAgent::PodRecord> NodeAgent::NewRecord(const std::string& key,
                                                           const Json& pod) {
  auto rec = std::make_shared<PodRecord>();
  rec->key = key;
  rec->ns = GetString(pod, "metadata.namespace", "default");
  rec->name = GetString(pod, "metadata.name");
  rec->uid = GetString(pod, "metadata.uid");
  rec->sandbox_id = SandboxIdForUid(rec->uid);
  // Continue from the stored status, so an asbd restart keeps restartCount, start times and
  // terminal states.
  const Json status = pod.value("status", Json::object());
  rec->view.start_time = TimeAt(status, "startTime").value_or(SystemTime{});
  ContainerView& c = rec->view.container;
  if (const Json* cs = Find(status, "containerStatuses");
      cs && cs->is_array() && !cs->empty() && (*cs)[0].is_object()) {
    const Json& s = (*cs)[0];
    if (const Json* rc = Find(s, "restartCount"); rc && rc->is_number_integer()) {
      c.restart_count = rc->get<int>();
    }
    c.image_id = GetString(s, "imageID");
    c.ready = s.value("ready", Json(false)) == Json(true);
    c.last_terminated = TerminatedFromJson(Find(s, "lastState.terminated"));
    if (!GetString(s, "containerID").empty()) rec->has_run = true;
    if (auto t = TerminatedFromJson(Find(s, "state.terminated"))) {
      c.state = ContainerView::State::kTerminated;
      c.terminated = *t;
    } else if (const Json* r = Find(s, "state.running"); r && r->is_object()) {
      // It was running when the last agent stopped; Recover re-adopts it if it still runs.
      c.started_at = TimeAt(*r, "startedAt").value_or(SystemTime{});
      TerminatedState lost;
      lost.exit_code = 137;
      lost.reason = "ContainerStatusUnknown";
      lost.message = "the sandbox was gone when the node agent restarted";
      lost.started_at = c.started_at;
      lost.finished_at = clock_.Now();
      c.last_terminated = lost;
    }
  }
  if (c.state != ContainerView::State::kTerminated) c.ready = c.ready && rec->has_run;
  // A pod that failed is failed for good (Kubernetes phases never leave Failed), even if a
  // restarted node could now run it.
  if (GetString(status, "phase") == "Failed" && c.state != ContainerView::State::kTerminated &&
      !GetString(status, "reason").empty()) {
    rec->view.failure = PodFailure{GetString(status, "reason"), GetString(status, "message")};
  }
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
    uid = it->second->uid;
    records_.erase(it);
  }
  if (options_.on_pod_forgotten && !uid.empty()) options_.on_pod_forgotten(uid);
}

void NodeAgent::SetRunning(PodRecord& rec, runtime::Runtime* rt, bool running) {
  std::lock_guard l(mu_);
  if (rt != nullptr) rec.runtime = rt;
  rec.running = running;
}

Status NodeAgent::StopEverywhere(const std::string& sandbox_id, milliseconds grace) {
  if (sandbox_id.empty()) return OkStatus();
  std::set<runtime::Runtime*> seen;
  for (const auto& [cls, rt] : runtimes_) {
    if (rt == nullptr || !seen.insert(rt).second) continue;
    ASB_RETURN_IF_ERROR(rt->Stop(sandbox_id, grace));
  }
  return OkStatus();
}

runtime::Runtime* NodeAgent::RuntimeFor(const std::string& runtime_class,
                                        PodFailure* failure) const {
  const std::string cls = runtime_class.empty() ? options_.default_runtime_class : runtime_class;
  auto it = runtimes_.find(cls);
  if (it == runtimes_.end() || it->second == nullptr) {
    *failure = PodFailure{kReasonRuntimeClassNotFound,
                          "runtime class \"" + cls + "\" is not available on this node"};
    return nullptr;
  }
  return it->second;
}

bool NodeAgent::WriteStatus(Json& pod, const PodView& view) {
  const Json old = pod.value("status", Json::object());
  Json status = ComputePodStatus(pod, view, old, clock_.Now());
  if (status == old) return true;
  Json obj = pod;
  obj["status"] = std::move(status);
  store::UpdateOptions uo;
  uo.status_only = true;
  auto updated = store_.Update(api::PodResource(), std::move(obj), uo);
  if (!updated) {
    if (updated.error().code == Code::kNotFound) return true;
    if (updated.error().code != Code::kAborted) {
      ASB_LOG(WARN, "node: writing pod status failed", "pod", PodKey(pod), "error",
              updated.error().message);
    }
    return false;
  }
  pod = std::move(*updated);
  return true;
}

milliseconds NodeAgent::Backoff(int failures) const {
  return RestartBackoff(failures, options_.backoff_base, options_.backoff_cap);
}

}  // namespace asb::node
