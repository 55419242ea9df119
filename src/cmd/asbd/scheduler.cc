#include "cmd/asbd/scheduler.h"

#include <algorithm>
#include <map>

#include "api/object_meta.h"
#include "api/resource.h"
#include "base/log.h"
#include "cmd/asbd/scheduler_fit.h"

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

void Scheduler::ScheduleAll() {
  const SystemTime now = RealClock::Get().Now();
  std::vector<Json> pods = pods_.Snapshot();
  std::vector<Json> pending;
  std::map<std::string, std::string> still_bound;  // the cache has not seen these bindings yet
  for (Json& p : pods) {
    if (!Pending(p)) continue;
    const std::string key =
        GetString(p, "metadata.namespace") + "/" + GetString(p, "metadata.name");
    auto b = bound_.find(key);
    if (b != bound_.end() && b->second.first == GetString(p, "metadata.resourceVersion")) {
      still_bound.emplace(key, b->second.second);
      p["spec"]["nodeName"] = b->second.second;  // counts on its node below
      continue;
    }
    pending.push_back(p);
  }
  for (auto it = bound_.begin(); it != bound_.end();)
    it = still_bound.count(it->first) ? std::next(it) : bound_.erase(it);
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
  for (const Json& p : pods) {
    if (!HoldsResources(p)) continue;
    auto it = usable.find(GetString(p, "spec.nodeName"));
    if (it == usable.end()) continue;
    Resources r = PodRequests(p);
    Resources s = ScoringRequests(r);
    it->second.requested.cpu_milli += r.cpu_milli;
    it->second.requested.memory_bytes += r.memory_bytes;
    it->second.scoring.cpu_milli += s.cpu_milli;
    it->second.scoring.memory_bytes += s.memory_bytes;
    ++it->second.pods;
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
    std::optional<std::string> node = PickNode(candidates, req, &reasons);
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
