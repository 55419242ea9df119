#include "cmd/asbd/scheduler_fit.h"

#include <algorithm>
#include <map>

#include "api/quantity.h"

namespace asb::asbd {

namespace {

constexpr int64_t kDefaultCpuMilli = 100;  // kube-scheduler's non-zero defaults
constexpr int64_t kDefaultMemoryBytes = 200ll << 20;

Resources ContainerRequests(const Json& c) {
  Resources r;
  for (const char* part : {"limits", "requests"}) {  // requests win where both are given
    const Json* m = Find(c, std::string("resources.") + part);
    if (m == nullptr || !m->is_object()) continue;
    if (auto it = m->find("cpu"); it != m->end() && it->is_string())
      if (auto v = api::ParseQuantityMilli(it->get<std::string>())) r.cpu_milli = *v;
    if (auto it = m->find("memory"); it != m->end() && it->is_string())
      if (auto v = api::ParseQuantityValue(it->get<std::string>())) r.memory_bytes = *v;
  }
  return r;
}

int64_t Quantity(const Json& list, const char* key, bool milli, int64_t fallback) {
  if (!list.is_object()) return fallback;
  auto it = list.find(key);
  if (it == list.end()) return fallback;
  std::string text = it->is_string()           ? it->get<std::string>()
                     : it->is_number_integer() ? std::to_string(it->get<int64_t>())
                                               : "";
  auto v = milli ? api::ParseQuantityMilli(text) : api::ParseQuantityValue(text);
  return v ? *v : fallback;
}

}  // namespace

Resources PodRequests(const Json& pod) {
  Resources sum, init;
  if (const Json* cs = Find(pod, "spec.containers"); cs && cs->is_array())
    for (const Json& c : *cs) {
      Resources r = ContainerRequests(c);
      sum.cpu_milli += r.cpu_milli;
      sum.memory_bytes += r.memory_bytes;
    }
  if (const Json* cs = Find(pod, "spec.initContainers"); cs && cs->is_array())
    for (const Json& c : *cs) {
      Resources r = ContainerRequests(c);
      init.cpu_milli = std::max(init.cpu_milli, r.cpu_milli);
      init.memory_bytes = std::max(init.memory_bytes, r.memory_bytes);
    }
  return {std::max(sum.cpu_milli, init.cpu_milli), std::max(sum.memory_bytes, init.memory_bytes)};
}

Resources ScoringRequests(const Resources& r) {
  return {r.cpu_milli > 0 ? r.cpu_milli : kDefaultCpuMilli,
          r.memory_bytes > 0 ? r.memory_bytes : kDefaultMemoryBytes};
}

bool NodeSchedulable(const Json& node, const Json* lease, SystemTime now, std::string* why) {
  if (const Json* u = Find(node, "spec.unschedulable"); u && u->is_boolean() && u->get<bool>()) {
    *why = "unschedulable";
    return false;
  }
  bool ready = false;
  if (const Json* cs = Find(node, "status.conditions"); cs && cs->is_array())
    for (const Json& c : *cs)
      if (GetString(c, "type") == "Ready") ready = GetString(c, "status") == "True";
  if (!ready) {
    *why = "not ready";
    return false;
  }
  // The node lifecycle controller's check: a node whose heartbeat stopped is not Ready, whatever
  // its last status said.
  std::optional<SystemTime> renewed =
      lease ? ParseRfc3339(GetString(*lease, "spec.renewTime")) : std::nullopt;
  int64_t duration = 40;
  if (lease)
    if (const Json* d = Find(*lease, "spec.leaseDurationSeconds"); d && d->is_number_integer())
      duration = d->get<int64_t>();
  if (!renewed || now - *renewed > std::chrono::seconds(duration)) {
    *why = "not heartbeating";
    return false;
  }
  return true;
}

NodeCapacity CapacityOf(const Json& node) {
  NodeCapacity n;
  n.name = GetString(node, "metadata.name");
  const Json* alloc = Find(node, "status.allocatable");
  if (alloc == nullptr || !alloc->is_object()) alloc = Find(node, "status.capacity");
  static const Json kEmpty = Json::object();
  const Json& a = alloc ? *alloc : kEmpty;
  n.allocatable.cpu_milli = Quantity(a, "cpu", true, 0);
  n.allocatable.memory_bytes = Quantity(a, "memory", false, 0);
  n.max_pods = Quantity(a, "pods", false, 110);
  return n;
}

bool HoldsResources(const Json& pod) {
  if (GetString(pod, "spec.nodeName").empty()) return false;
  std::string phase = GetString(pod, "status.phase");
  return phase != "Succeeded" && phase != "Failed";
}

std::optional<std::string> PickNode(const std::vector<NodeCapacity>& nodes, const Resources& req,
                                    std::map<std::string, int>* reasons_out) {
  const Resources score_req = ScoringRequests(req);
  std::optional<std::string> best;
  double best_score = -1;
  std::map<std::string, int>& reasons = *reasons_out;
  for (const NodeCapacity& n : nodes) {
    if (n.pods + 1 > n.max_pods) {
      ++reasons["Too many pods"];
      continue;
    }
    if (n.requested.cpu_milli + req.cpu_milli > n.allocatable.cpu_milli) {
      ++reasons["Insufficient cpu"];
      continue;
    }
    if (n.requested.memory_bytes + req.memory_bytes > n.allocatable.memory_bytes) {
      ++reasons["Insufficient memory"];
      continue;
    }
    auto free_share = [](int64_t used, int64_t cap) {
      return cap <= 0 ? 0.0 : std::max(0.0, double(cap - used) / double(cap));
    };
    double score =
        (free_share(n.scoring.cpu_milli + score_req.cpu_milli, n.allocatable.cpu_milli) +
         free_share(n.scoring.memory_bytes + score_req.memory_bytes, n.allocatable.memory_bytes)) /
        2;
    if (score > best_score || (score == best_score && best && n.name < *best)) {
      best_score = score;
      best = n.name;
    }
  }
  return best;
}

std::string UnschedulableMessage(size_t nodes, const std::map<std::string, int>& reasons) {
  if (nodes == 0) return "no nodes available to schedule pods";
  std::string text = "0/" + std::to_string(nodes) + " nodes are available";
  bool first = true;
  for (const auto& [reason, count] : reasons) {
    text += (first ? ": " : ", ") + std::to_string(count) + " " + reason;
    first = false;
  }
  return text + ".";
}

}  // namespace asb::asbd
