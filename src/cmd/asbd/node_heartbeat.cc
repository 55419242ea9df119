#include "cmd/asbd/node_heartbeat.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "api/resource.h"
#include "base/clock.h"
#include "base/json_util.h"
#include "base/log.h"
#include "store/store_util.h"

namespace asb::asbd {

namespace {

constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

// "MemTotal:       24576000 kB" -> "24576000Ki".
std::string MemoryCapacity() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemTotal:") return std::to_string(kb) + "Ki";
  return "0";
}

Json NodeStatus(const NodeHeartbeatOptions& o, const std::string& now, const Json& old_status) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  Json resources = {
      {"cpu", std::to_string(cpus > 0 ? cpus : 1)}, {"memory", MemoryCapacity()}, {"pods", "110"}};
  // lastTransitionTime moves only when the condition's status does.
  std::string since = now;
  if (const Json* cs = Find(old_status, "conditions"); cs && cs->is_array())
    for (const Json& c : *cs)
      if (GetString(c, "type") == "Ready" && GetString(c, "status") == "True")
        since = GetString(c, "lastTransitionTime", now);
  struct utsname u {};
  uname(&u);
  return {{"capacity", resources},
          {"allocatable", resources},
          {"conditions", Json::array({{{"type", "Ready"},
                                       {"status", "True"},
                                       {"reason", "KubeletReady"},
                                       {"message", "asbd node is posting ready status"},
                                       {"lastHeartbeatTime", now},
                                       {"lastTransitionTime", since}}})},
          {"addresses", Json::array({{{"type", "InternalIP"}, {"address", o.address}},
                                     {{"type", "Hostname"}, {"address", o.node_name}}})},
          {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", o.stream_port}}}}},
          {"nodeInfo",
           {{"kernelVersion", u.release},
            {"operatingSystem", "linux"},
            {"architecture", u.machine},
            {"containerRuntimeVersion", "asbd://native"},
            {"kubeletVersion", "asbd"}}}};
}

}  // namespace

NodeHeartbeat::NodeHeartbeat(store::Store& store, NodeHeartbeatOptions options)
    : store_(store), options_(std::move(options)) {}

NodeHeartbeat::~NodeHeartbeat() { Stop(); }

Status NodeHeartbeat::Start() {
  ASB_RETURN_IF_ERROR(RegisterNode());
  ASB_RETURN_IF_ERROR(RenewLease());
  ASB_RETURN_IF_ERROR(WriteNodeStatus());
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void NodeHeartbeat::Stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status NodeHeartbeat::RegisterNode() {
  auto node = store_.Get(api::NodeResource(), "", options_.node_name);
  if (!node && node.error().code != Code::kNotFound) return tl::unexpected(node.error());
  if (!node) {
    Json fresh = {
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata",
         {{"name", options_.node_name},
          {"labels",
           {{"kubernetes.io/hostname", options_.node_name}, {"kubernetes.io/os", "linux"}}}}},
        {"spec", Json::object()}};
    if (!options_.pod_cidr.empty()) {
      fresh["spec"]["podCIDR"] = options_.pod_cidr;
      fresh["spec"]["podCIDRs"] = Json::array({options_.pod_cidr});
    }
    node = store_.Create(api::NodeResource(), std::move(fresh));
    if (!node && node.error().code == Code::kAlreadyExists)
      node = store_.Get(api::NodeResource(), "", options_.node_name);
    if (!node) return tl::unexpected(node.error().Wrap("registering node " + options_.node_name));
    ASB_LOG(INFO, "node registered", "node", options_.node_name);
  }
  node_uid_ = GetString(*node, "metadata.uid");
  return OkStatus();
}

Status NodeHeartbeat::WriteNodeStatus() {
  const std::string now = FormatRfc3339(RealClock::Get().Now());
  auto written = store::UpdateWithRetry(store_, api::NodeResource(), "", options_.node_name,
                                        [&](store::Object& obj) -> Status {
                                          obj["status"] = NodeStatus(
                                              options_, now, obj.value("status", Json::object()));
                                          return OkStatus();
                                        },
                                        {.status_only = true});
  if (!written) return tl::unexpected(written.error().Wrap("node status"));
  return OkStatus();
}

Status NodeHeartbeat::RenewLease() {
  const std::string now = FormatRfc3339Micro(RealClock::Get().Now());
  auto renewed = store::UpdateWithRetry(store_, api::LeaseResource(), kNodeLeaseNamespace,
                                        options_.node_name, [&](store::Object& obj) -> Status {
                                          obj["spec"]["holderIdentity"] = options_.node_name;
                                          obj["spec"]["leaseDurationSeconds"] =
                                              options_.lease_duration_seconds;
                                          obj["spec"]["renewTime"] = now;
                                          return OkStatus();
                                        });
  if (renewed || renewed.error().code != Code::kNotFound) {
    if (!renewed) return tl::unexpected(renewed.error().Wrap("node lease"));
    return OkStatus();
  }
  // First heartbeat: the namespace (kube-apiserver creates it; asbd's may not have) and the
  // Lease, owned by the Node so it goes with it.
  auto ns = store_.Create(api::NamespaceResource(), {{"apiVersion", "v1"},
                                                     {"kind", "Namespace"},
                                                     {"metadata", {{"name", kNodeLeaseNamespace}}},
                                                     {"spec", Json::object()}});
  if (!ns && ns.error().code != Code::kAlreadyExists)
    return tl::unexpected(ns.error().Wrap("namespace " + std::string(kNodeLeaseNamespace)));
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata",
                 {{"name", options_.node_name},
                  {"namespace", kNodeLeaseNamespace},
                  {"ownerReferences", Json::array({{{"apiVersion", "v1"},
                                                    {"kind", "Node"},
                                                    {"name", options_.node_name},
                                                    {"uid", node_uid_}}})}}},
                {"spec",
                 {{"holderIdentity", options_.node_name},
                  {"leaseDurationSeconds", options_.lease_duration_seconds},
                  {"renewTime", now}}}};
  auto created = store_.Create(api::LeaseResource(), std::move(lease));
  if (!created && created.error().code != Code::kAlreadyExists)
    return tl::unexpected(created.error().Wrap("node lease"));
  return OkStatus();
}

void NodeHeartbeat::Loop() {
  auto next_status = std::chrono::steady_clock::now() + options_.status_interval;
  while (!stopping_) {
    {
      std::unique_lock l(mu_);
      cv_.wait_for(l, options_.renew_interval, [this] { return stopping_.load(); });
    }
    if (stopping_) break;
    if (auto s = RenewLease(); !s)
      ASB_LOG(WARN, "node heartbeat failed", "node", options_.node_name, "error",
              s.error().message);
    if (std::chrono::steady_clock::now() >= next_status) {
      next_status = std::chrono::steady_clock::now() + options_.status_interval;
      if (auto s = WriteNodeStatus(); !s)
        ASB_LOG(WARN, "node status update failed", "node", options_.node_name, "error",
                s.error().message);
    }
  }
}

}  // namespace asb::asbd
