#include "cmd/asbd/scheduler.h"

#include <algorithm>
#include <map>

#include "api/object_meta.h"
#include "api/resource.h"
#include "base/log.h"
#include "cmd/asbd/scheduler_fit.h"
#include "cmd/asbd/scheduler_volumes.h"

namespace asb::asbd {

namespace {

constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

bool IsMirror(const Json& pod) {
  const Json* ann = Find(pod, "metadata.annotations");
  return ann && ann->is_object() && ann->contains("kubernetes.io/config.mirror");
}

bool Pending(const Json& pod) {
  return GetString(pod, "spec.nodeName").empty() && !api::IsDeleting(pod) && !IsMirror(pod) &&
         GetString(pod, "status.phase") != "Succeeded" &&
         GetString(pod, "status.phase") != "Failed";
}

}  // namespace

Scheduler::Scheduler(store::Store& store, SchedulerOptions options)
    : store_(store),
      options_(options),
      pods_(store, api::PodResource(), "", {.on_change = [this](const Json*) { Wake(); }}),
      nodes_(store, api::NodeResource(), "", {.on_change = [this](const Json*) { Wake(); }}),
      leases_(store, api::LeaseResource(), kNodeLeaseNamespace,
              {.on_change = [this](const Json*) { Wake(); }}) {}

Scheduler::~Scheduler() { Stop(); }

Status Scheduler::Start() {
  // Before the cache lists, so its first list reaches the index as ADDED events.
  pod_events_ = pods_.Subscribe();
  pods_.Start();
  nodes_.Start();
  leases_.Start();
  thread_ = std::thread([this] { Loop(); });
  ASB_LOG(INFO, "scheduler started");
  return OkStatus();
}

void Scheduler::Stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  pods_.Stop();
  nodes_.Stop();
  leases_.Stop();
}

void Scheduler::Wake() {
  {
    std::lock_guard l(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void Scheduler::Loop() {
  while (!stopping_) {
    {
      std::unique_lock l(mu_);
      cv_.wait_for(l, options_.retry_period, [this] { return dirty_ || stopping_.load(); });
      dirty_ = false;
    }
    if (stopping_) break;
    if (!pods_.WaitSynced(std::chrono::milliseconds(0)) ||
        !nodes_.WaitSynced(std::chrono::milliseconds(0)))
      continue;
    ScheduleAll();
  }
}

void Scheduler::ApplyPod(store::EventType type, const Json& pod) {
  const std::string key =
      GetString(pod, "metadata.namespace") + "/" + GetString(pod, "metadata.name");
  if (auto it = index_.find(key); it != index_.end()) {
    if (!it->second.node.empty()) {
      Usage& u = usage_[it->second.node];
      u.requested.cpu_milli -= it->second.requested.cpu_milli;
      u.requested.memory_bytes -= it->second.requested.memory_bytes;
      u.scoring.cpu_milli -= it->second.scoring.cpu_milli;
      u.scoring.memory_bytes -= it->second.scoring.memory_bytes;
      if (--u.pods == 0) usage_.erase(it->second.node);
    }
    index_.erase(it);
  }
  if (type == store::EventType::kDeleted) return;
  if (Pending(pod)) {
    index_[key] = IndexedPod{.pending = true, .pod = pod};
  } else if (HoldsResources(pod)) {
    IndexedPod entry;
    entry.node = GetString(pod, "spec.nodeName");
    entry.requested = PodRequests(pod);
    entry.scoring = ScoringRequests(entry.requested);
    Usage& u = usage_[entry.node];
    u.requested.cpu_milli += entry.requested.cpu_milli;
    u.requested.memory_bytes += entry.requested.memory_bytes;
    u.scoring.cpu_milli += entry.scoring.cpu_milli;
    u.scoring.memory_bytes += entry.scoring.memory_bytes;
    ++u.pods;
    index_.emplace(key, std::move(entry));
  }
}

void Scheduler::DrainPodEvents() {
  while (true) {
    auto ev = pod_events_->Next(std::chrono::milliseconds(0));
    if (!ev) {
      if (ev.error().code == Code::kAborted) return;  // stopping
      // Fell behind the cache (kGone): start over from its current view.
      ASB_LOG(WARN, "scheduler: pod events ended, rebuilding the index", "error",
              ev.error().message);
      index_.clear();
      usage_.clear();
      pod_events_ = pods_.Subscribe();
      continue;
    }
    if (!*ev) return;
    if ((*ev)->type != store::EventType::kBookmark) ApplyPod((*ev)->type, (*ev)->object);
  }
}

void Scheduler::ScheduleAll() {
  const SystemTime now = RealClock::Get().Now();
  DrainPodEvents();
  std::vector<Json> pending;
  std::map<std::string, Usage> still_bound;  // per node: bindings the cache has not shown yet
  std::set<std::string> still_bound_keys;
  for (const auto& [key, entry] : index_) {
    if (!entry.pending) continue;
    auto b = bound_.find(key);
    if (b != bound_.end() && b->second.first == GetString(entry.pod, "metadata.resourceVersion")) {
      Resources r = PodRequests(entry.pod), sc = ScoringRequests(r);
      Usage& u = still_bound[b->second.second];
      u.requested.cpu_milli += r.cpu_milli;
      u.requested.memory_bytes += r.memory_bytes;
      u.scoring.cpu_milli += sc.cpu_milli;
      u.scoring.memory_bytes += sc.memory_bytes;
      ++u.pods;
      still_bound_keys.insert(key);
      continue;
    }
    pending.push_back(entry.pod);
  }
  for (auto it = bound_.begin(); it != bound_.end();)
    it = still_bound_keys.count(it->first) ? std::next(it) : bound_.erase(it);
  std::set<std::string> pending_keys;
  for (const Json& p : pending)
    pending_keys.insert(GetString(p, "metadata.namespace") + "/" + GetString(p, "metadata.name"));
  for (auto it = unschedulable_.begin(); it != unschedulable_.end();)
    it = pending_keys.count(it->substr(0, it->find(": "))) ? std::next(it)
                                                           : unschedulable_.erase(it);
  if (pending.empty()) return;

  std::map<std::string, NodeCapacity> usable;
  std::map<std::string, int> unusable;  // reason -> nodes left out before fitting
  size_t node_count = 0;
  for (const Json& node : nodes_.Snapshot()) {
    ++node_count;
    std::string name = GetString(node, "metadata.name");
    std::optional<Json> lease = leases_.Get(kNodeLeaseNamespace, name);
    std::string why;
    if (!NodeSchedulable(node, lease ? &*lease : nullptr, now, &why)) {
      ++unusable["node(s) " + why];
      continue;
    }
    usable.emplace(name, CapacityOf(node));
  }
  for (const std::map<std::string, Usage>* m : {&usage_, &still_bound}) {
    for (const auto& [node, u] : *m) {
      auto it = usable.find(node);
      if (it == usable.end()) continue;
      it->second.requested.cpu_milli += u.requested.cpu_milli;
      it->second.requested.memory_bytes += u.requested.memory_bytes;
      it->second.scoring.cpu_milli += u.scoring.cpu_milli;
      it->second.scoring.memory_bytes += u.scoring.memory_bytes;
      it->second.pods += u.pods;
    }
  }
  // Oldest first, as kube-scheduler's default queue sort (priority aside).
  std::sort(pending.begin(), pending.end(), [](const Json& a, const Json& b) {
    return std::make_pair(GetString(a, "metadata.creationTimestamp"),
                          GetString(a, "metadata.name")) <
           std::make_pair(GetString(b, "metadata.creationTimestamp"),
                          GetString(b, "metadata.name"));
  });
  std::vector<NodeCapacity> candidates;
  for (const auto& [name, n] : usable) candidates.push_back(n);

  for (Json& pod : pending) {
    if (stopping_) return;
    const std::string key =
        GetString(pod, "metadata.namespace") + "/" + GetString(pod, "metadata.name");
    Resources req = PodRequests(pod);
    std::map<std::string, int> reasons = unusable;
    std::vector<NodeCapacity> pinned;  // a node-local volume's node (scheduler_volumes.h)
    std::optional<std::string> node =
        PickNode(VolumeCandidates(store_, pod, candidates, &pinned, &reasons), req, &reasons);
    if (!node) {
      const std::string why = UnschedulableMessage(node_count, reasons);
      if (!unschedulable_.insert(key + ": " + why).second) continue;  // already said
      Json status = pod.contains("status") ? pod["status"] : Json::object();
      Json conds = Json::array();
      if (const Json* cs = Find(status, "conditions"); cs && cs->is_array())
        for (const Json& c : *cs)
          if (GetString(c, "type") != "PodScheduled") conds.push_back(c);
      conds.push_back({{"type", "PodScheduled"},
                       {"status", "False"},
                       {"reason", "Unschedulable"},
                       {"message", why},
                       {"lastTransitionTime", FormatRfc3339(now)}});
      status["conditions"] = std::move(conds);
      Json update = pod;
      update["status"] = std::move(status);
      auto w = store_.Update(api::PodResource(), std::move(update), {.status_only = true});
      if (!w) unschedulable_.erase(key + ": " + why);  // try again next pass
      ASB_LOG(INFO, "scheduler: pod unschedulable", "pod", key, "reason", why);
      continue;
    }
    const std::string seen_at = GetString(pod, "metadata.resourceVersion");
    Json bound = pod;
    bound["spec"]["nodeName"] = *node;
    auto w = store_.Update(api::PodResource(), std::move(bound));
    if (!w) {
      // 409: the pod changed since the cache saw it; the watch brings the new one.
      if (w.error().code != Code::kAborted && w.error().code != Code::kNotFound)
        ASB_LOG(WARN, "scheduler: binding failed", "pod", key, "node", *node, "error",
                w.error().message);
      continue;
    }
    bound_[key] = {seen_at, *node};
    ++bindings_;
    ASB_LOG(DEBUG, "scheduler: bound pod", "pod", key, "node", *node);
    for (NodeCapacity& n : candidates)
      if (n.name == *node) {
        Resources s = ScoringRequests(req);
        n.requested.cpu_milli += req.cpu_milli;
        n.requested.memory_bytes += req.memory_bytes;
        n.scoring.cpu_milli += s.cpu_milli;
        n.scoring.memory_bytes += s.memory_bytes;
        ++n.pods;
      }
  }
}

}  // namespace asb::asbd
