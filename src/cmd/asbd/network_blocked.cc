#include "cmd/asbd/network_blocked.h"

#include <chrono>

#include "api/resource.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "node/pod_spec.h"

namespace asb::asbd {
namespace {

constexpr std::chrono::seconds kPeriod{1};

std::string Destination(const net::BlockedPacket& p) {
  std::string s = std::string(p.egress ? "egress to " : "ingress from ") +
                  net::ToString(p.egress ? p.dst : p.src);
  if (p.dst_port != 0) {
    s += ":" + std::to_string(p.dst_port);
  }
  return s + "/" + net::ProtocolName(p.protocol);
}

}  // namespace

NetworkBlocked::NetworkBlocked(store::Store& store, net::PodNetwork& network)
    : store_(store), network_(network) {
  collector_ = metrics::Registry::Default().AddCollector(
      "asb_sandbox_network_blocked_total",
      "Packets the pod firewall dropped, per live sandbox and direction (a refused TCP connect "
      "is its SYN and the SYN's retries).",
      {"namespace", "sandbox", "direction"}, [this] { return Samples(); });
  thread_ = std::thread([this] {
    while (!stopping_) {
      std::this_thread::sleep_for(kPeriod);
      if (!stopping_) Flush();
    }
  });
}

void NetworkBlocked::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  collector_.Reset();
}

std::vector<metrics::GaugeSample> NetworkBlocked::Samples() {
  std::vector<metrics::GaugeSample> out;
  std::map<std::string, net::BlockedCounts> counts = network_.Blocked();
  std::lock_guard l(mu_);
  for (const auto& [id, c] : counts) {
    auto o = owners_.find(id);
    if (o == owners_.end()) continue;  // named at the next Flush
    out.push_back({{o->second.ns, o->second.sandbox, "egress"}, static_cast<double>(c.egress)});
    out.push_back({{o->second.ns, o->second.sandbox, "ingress"}, static_cast<double>(c.ingress)});
  }
  return out;
}

void NetworkBlocked::Flush() {
  std::map<std::string, net::BlockedCounts> counts = network_.Blocked();
  std::map<std::string, net::BlockedCounts> changed;
  {
    std::lock_guard l(mu_);
    for (auto it = reported_.begin(); it != reported_.end();) {
      it = counts.count(it->first) ? std::next(it) : reported_.erase(it);  // gone
    }
    for (auto it = owners_.begin(); it != owners_.end();) {
      it = counts.count(it->first) ? std::next(it) : owners_.erase(it);
    }
    for (const auto& [id, c] : counts) {
      if (reported_[id] != c.changes) changed[id] = c;
    }
  }
  if (changed.empty()) return;
  auto pods = store_.List(api::PodResource(), "", {});
  if (!pods) return;
  for (const Json& pod : pods->items) {
    const std::string id = node::SandboxIdForUid(GetString(pod, "metadata.uid"));
    auto c = changed.find(id);
    if (c == changed.end()) continue;
    const std::string ns = GetString(pod, "metadata.namespace");
    // The Sandbox the pod belongs to, else the pod itself.
    Json involved = {{"apiVersion", "v1"},
                     {"kind", "Pod"},
                     {"name", GetString(pod, "metadata.name")},
                     {"namespace", ns},
                     {"uid", GetString(pod, "metadata.uid")}};
    if (const Json* refs = Find(pod, "metadata.ownerReferences"); refs && refs->is_array()) {
      for (const Json& r : *refs) {
        if (r.value("kind", "") != "Sandbox") continue;
        involved = {{"apiVersion", r.value("apiVersion", "")},
                    {"kind", "Sandbox"},
                    {"name", r.value("name", "")},
                    {"namespace", ns},
                    {"uid", r.value("uid", "")}};
      }
    }
    const std::string owner = involved.value("name", "");
    {
      std::lock_guard l(mu_);
      owners_[id] = Owner{ns, owner};
      reported_[id] = c->second.changes;
    }
    const uint64_t total = c->second.egress + c->second.ingress;
    const std::string message = Destination(c->second.last) +
                                " blocked by the pod network's policy (" + std::to_string(total) +
                                " packets dropped so far)";
    const std::string ts = FormatRfc3339(RealClock::Get().Now());
    const std::string name = owner + ".networkblocked." + id.substr(0, 8);
    auto existing = store_.Get(api::EventResource(), ns, name);
    if (existing) {
      Json ev = std::move(*existing);
      ev["message"] = message;
      ev["count"] = total;
      ev["lastTimestamp"] = ts;
      if (auto r = store_.Update(api::EventResource(), std::move(ev)); !r) {
        ASB_LOG(WARN, "pod network: updating a NetworkBlocked event", "error", r.error().message);
      }
      continue;
    }
    Json ev = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata",
                {{"name", name},
                 {"namespace", ns},
                 {"ownerReferences", Json::array({{{"apiVersion", involved["apiVersion"]},
                                                   {"kind", involved["kind"]},
                                                   {"name", involved["name"]},
                                                   {"uid", involved["uid"]}}})}}},
               {"involvedObject", involved},
               {"reason", "NetworkBlocked"},
               {"message", message},
               {"type", "Warning"},
               {"source", {{"component", "asb-pod-network"}}},
               {"reportingComponent", "asb-pod-network"},
               {"firstTimestamp", ts},
               {"lastTimestamp", ts},
               {"count", total}};
    if (auto r = store_.Create(api::EventResource(), std::move(ev)); !r) {
      ASB_LOG(WARN, "pod network: recording a NetworkBlocked event", "error", r.error().message);
    }
  }
}

}  // namespace asb::asbd
