#include "api/table.h"

#include <map>

#include "api/object_meta.h"
#include "api/sandbox_claim.h"
#include "api/storage.h"
#include "base/strings.h"

namespace asb::api {

namespace {

TableColumn NameCol() {
  return {"Name", "string", "name",
          "Name must be unique within a namespace. "
          "More info: http://kubernetes.io/docs/user-guide/identifiers#names",
          0};
}
TableColumn AgeCol() {
  return {"Age", "string", "",
          "CreationTimestamp is a timestamp representing the server time "
          "when this object was created.",
          0};
}

std::string ConditionStatus(const Json& obj, const std::string& type, const char* field) {
  const Json* conds = Find(obj, "status.conditions");
  if (!conds || !conds->is_array()) return "";
  for (const auto& c : *conds)
    if (GetString(c, "type") == type) return GetString(c, field);
  return "";
}

int64_t IntAt(const Json& obj, std::string_view path) {
  const Json* v = Find(obj, path);
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;
}

// kubectl's pod STATUS: the reason of a waiting/terminated container beats the phase.
std::string PodStatus(const Json& pod) {
  if (IsDeleting(pod)) return "Terminating";
  std::string reason = GetString(pod, "status.reason");
  std::string status = reason.empty() ? GetString(pod, "status.phase", "Pending") : reason;
  if (const Json* cs = Find(pod, "status.containerStatuses"); cs && cs->is_array()) {
    for (const auto& c : *cs) {
      std::string waiting = GetString(c, "state.waiting.reason");
      std::string terminated = GetString(c, "state.terminated.reason");
      if (!waiting.empty())
        status = waiting;
      else if (!terminated.empty() && status != "Running")
        status = terminated;
    }
  }
  return status;
}

}  // namespace

const std::vector<TableColumn>& TableColumns(const ResourceInfo& res) {
  static const auto* kColumns = [] {
    auto* m = new std::map<std::string, std::vector<TableColumn>>();
    (*m)["Sandbox"] = {NameCol(),
                       {"Ready", "string", "", "Status of the Ready condition", 0},
                       {"Reason", "string", "", "Reason of the Ready condition", 0},
                       AgeCol()};
    (*m)["SandboxClaim"] = {NameCol(),
                            {"Ready", "string", "", "Status of the Ready condition", 0},
                            {"Sandbox", "string", "", "The bound Sandbox", 0},
                            {"Reason", "string", "", "Reason of the Ready condition", 0},
                            AgeCol()};
    (*m)["SandboxWarmPool"] = {NameCol(),
                               {"Ready", "integer", "", "Ready pool members", 0},
                               {"Desired", "integer", "", "Desired pool size", 0},
                               AgeCol()};
    (*m)["Pod"] = {NameCol(),
                   {"Ready", "string", "", "Ready containers / all containers", 0},
                   {"Status", "string", "", "The aggregate status of the containers", 0},
                   {"Restarts", "integer", "", "Container restarts", 0},
                   AgeCol(),
                   {"IP", "string", "", "Pod IP", 1},
                   {"Node", "string", "", "Node name", 1}};
    (*m)["Service"] = {NameCol(),
                       {"Type", "string", "", "Service type", 0},
                       {"Cluster-IP", "string", "", "Cluster IP", 0},
                       {"Ports", "string", "", "Ports", 0},
                       AgeCol()};
    (*m)["PersistentVolumeClaim"] = {
        NameCol(),
        {"Status", "string", "", "The claim's phase", 0},
        {"Volume", "string", "", "The bound PersistentVolume", 0},
        {"Capacity", "string", "", "The bound volume's size", 0},
        {"Access Modes", "string", "", "The volume's access modes", 0},
        {"StorageClass", "string", "", "The claim's StorageClass", 0},
        {"VolumeAttributesClass", "string", "", "The claim's VolumeAttributesClass", 0},
        AgeCol(),
        {"VolumeMode", "string", "", "Filesystem or Block", 1}};
    (*m)["PersistentVolume"] = {NameCol(),
                                {"Capacity", "string", "", "The volume's size", 0},
                                {"Access Modes", "string", "", "The volume's access modes", 0},
                                {"Reclaim Policy", "string", "", "What deleting the claim does", 0},
                                {"Status", "string", "", "The volume's phase", 0},
                                {"Claim", "string", "", "The bound claim (namespace/name)", 0},
                                {"StorageClass", "string", "", "The volume's StorageClass", 0},
                                {"VolumeAttributesClass", "string", "", "", 0},
                                {"Reason", "string", "", "Why the volume is in its phase", 0},
                                AgeCol()};
    (*m)["StorageClass"] = {NameCol(),
                            {"Provisioner", "string", "", "The provisioner", 0},
                            {"ReclaimPolicy", "string", "", "Reclaim policy of its volumes", 0},
                            {"VolumeBindingMode", "string", "", "When volumes are bound", 0},
                            {"AllowVolumeExpansion", "string", "", "Whether claims may grow", 0},
                            AgeCol()};
    (*m)["Namespace"] = {NameCol(), {"Status", "string", "", "Namespace phase", 0}, AgeCol()};
    // Never a value: the number of keys only.
    (*m)["Secret"] = {NameCol(),
                      {"Type", "string", "", "The type of the secret", 0},
                      {"Data", "integer", "", "Number of keys in the secret", 0},
                      AgeCol()};
    (*m)["Deployment"] = {NameCol(),
                          {"Ready", "string", "", "Ready replicas / desired", 0},
                          {"Up-to-date", "integer", "", "Updated replicas", 0},
                          {"Available", "integer", "", "Available replicas", 0},
                          AgeCol()};
    (*m)["StatefulSet"] = {
        NameCol(), {"Ready", "string", "", "Ready replicas / desired", 0}, AgeCol()};
    (*m)["Event"] = {NameCol(),
                     {"Type", "string", "", "Event type", 0},
                     {"Reason", "string", "", "Reason", 0},
                     {"Object", "string", "", "Involved object", 0},
                     {"Message", "string", "", "Message", 0},
                     AgeCol()};
    return m;
  }();
  static const std::vector<TableColumn> kDefault = {NameCol(), AgeCol()};
  auto it = kColumns->find(res.kind);
  return it == kColumns->end() ? kDefault : it->second;
}

Json TableCells(const ResourceInfo& res, const Json& obj, SystemTime now) {
  std::string name = GetString(obj, "metadata.name");
  std::string age = Age(obj, now);
  const std::string& k = res.kind;
  if (k == "Sandbox")
    return {name, ConditionStatus(obj, "Ready", "status"), ConditionStatus(obj, "Ready", "reason"),
            age};
  if (k == "SandboxClaim") {
    std::string sb = BoundSandboxName(obj);
    return {name, ConditionStatus(obj, "Ready", "status"), sb,
            ConditionStatus(obj, "Ready", "reason"), age};
  }
  if (k == "SandboxWarmPool")
    return {name, IntAt(obj, "status.readyReplicas"), IntAt(obj, "spec.replicas"), age};
  if (k == "Pod") {
    int64_t total = 0, ready = 0, restarts = 0;
    if (const Json* c = Find(obj, "spec.containers"); c && c->is_array())
      total = static_cast<int64_t>(c->size());
    if (const Json* cs = Find(obj, "status.containerStatuses"); cs && cs->is_array()) {
      for (const auto& c : *cs) {
        if (const Json* r = Find(c, "ready"); r && r->is_boolean() && r->get<bool>()) ++ready;
        restarts += IntAt(c, "restartCount");
      }
    }
    return {name,
            std::to_string(ready) + "/" + std::to_string(total),
            PodStatus(obj),
            restarts,
            age,
            GetString(obj, "status.podIP", "<none>"),
            GetString(obj, "spec.nodeName", "<none>")};
  }
  if (k == "Service") {
    std::string ports;
    if (const Json* p = Find(obj, "spec.ports"); p && p->is_array()) {
      for (const auto& port : *p) {
        if (!ports.empty()) ports += ",";
        const Json* n = Find(port, "port");
        ports += (n ? DumpJson(*n) : "?") + "/" + GetString(port, "protocol", "TCP");
      }
    }
    return {name, GetString(obj, "spec.type", "ClusterIP"),
            GetString(obj, "spec.clusterIP", "<none>"), ports.empty() ? "<none>" : ports, age};
  }
  if (k == "PersistentVolumeClaim") {
    bool bound = GetString(obj, "status.phase") == "Bound";
    std::string sc = GetString(obj, "spec.storageClassName");
    return {name,
            IsDeleting(obj) ? "Terminating" : GetString(obj, "status.phase", "Pending"),
            GetString(obj, "spec.volumeName"),
            bound ? GetString(obj, "status.capacity.storage") : "",
            bound ? AccessModesShort(Find(obj, "status.accessModes")) : "",
            sc.empty() ? "<unset>" : sc,
            GetString(obj, "spec.volumeAttributesClassName", "<unset>"),
            age,
            GetString(obj, "spec.volumeMode", "Filesystem")};
  }
  if (k == "PersistentVolume") {
    std::string claim;
    if (const Json* ref = Find(obj, "spec.claimRef"); ref && ref->is_object())
      claim = GetString(*ref, "namespace") + "/" + GetString(*ref, "name");
    return {name,
            GetString(obj, "spec.capacity.storage"),
            AccessModesShort(Find(obj, "spec.accessModes")),
            GetString(obj, "spec.persistentVolumeReclaimPolicy", "Retain"),
            IsDeleting(obj) ? "Terminating" : GetString(obj, "status.phase", "Pending"),
            claim,
            GetString(obj, "spec.storageClassName"),
            "<unset>",
            GetString(obj, "status.reason"),
            age};
  }
  if (k == "StorageClass") {
    const Json* expand = Find(obj, "allowVolumeExpansion");
    return {IsDefaultClass(obj) ? name + " (default)" : name,
            GetString(obj, "provisioner"),
            GetString(obj, "reclaimPolicy", "Delete"),
            GetString(obj, "volumeBindingMode", "Immediate"),
            expand && expand->is_boolean() && expand->get<bool>() ? "true" : "false",
            age};
  }
  if (k == "Namespace") return {name, GetString(obj, "status.phase", "Active"), age};
  if (k == "Secret") {
    const Json* data = Find(obj, "data");
    int64_t keys = data && data->is_object() ? static_cast<int64_t>(data->size()) : 0;
    return {name, GetString(obj, "type", "Opaque"), keys, age};
  }
  if (k == "Deployment" || k == "StatefulSet") {
    std::string ready = std::to_string(IntAt(obj, "status.readyReplicas")) + "/" +
                        std::to_string(IntAt(obj, "spec.replicas"));
    if (k == "StatefulSet") return {name, ready, age};
    return {name, ready, IntAt(obj, "status.updatedReplicas"),
            IntAt(obj, "status.availableReplicas"), age};
  }
  if (k == "Event")
    return {name,
            GetString(obj, "type"),
            GetString(obj, "reason"),
            ToLower(GetString(obj, "involvedObject.kind")) + "/" +
                GetString(obj, "involvedObject.name"),
            GetString(obj, "message"),
            age};
  return {name, age};
}

std::string HumanDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  auto fmt = [](int64_t a, const char* ua, int64_t b, const char* ub) {
    std::string out = std::to_string(a) + ua;
    if (b != 0) out += std::to_string(b) + ub;
    return out;
  };
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return std::to_string(s) + "s";
  int64_t m = s / 60;
  if (m < 10) return fmt(m, "m", s % 60, "s");
  if (m < 180) return std::to_string(m) + "m";
  int64_t h = m / 60;
  if (h < 8) return fmt(h, "h", m % 60, "m");
  if (h < 48) return std::to_string(h) + "h";
  if (h < 24 * 8) return fmt(h / 24, "d", h % 24, "h");
  if (h < 24 * 365 * 2) return std::to_string(h / 24) + "d";
  if (h < 24 * 365 * 8) return fmt(h / 24 / 365, "y", (h / 24) % 365, "d");
  return std::to_string(h / 24 / 365) + "y";
}

std::string Age(const Json& obj, SystemTime now) {
  auto created = ParseRfc3339(GetString(obj, "metadata.creationTimestamp"));
  if (!created) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *created));
}

}  // namespace asb::api
