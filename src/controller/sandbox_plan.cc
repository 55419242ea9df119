#include "controller/sandbox_plan.h"

#include <set>
#include <vector>

#include "api/resource.h"
#include "api/views.h"
#include "base/strings.h"
#include "controller/conditions.h"
#include "controller/object_util.h"
#include "controller/sandbox_volumes.h"

namespace asb::controller {
namespace {

// Sandbox labels copied onto the pod so pool membership, template and claim identity are
// visible on pods (upstream "extension labels").
constexpr std::string_view kExtensionLabels[] = {kLabelWarmPoolSandbox, kLabelTemplateRefHash,
                                                 kLabelClaimUid, kLabelLaunchType};

struct PodMeta {
  std::map<std::string, std::string> labels, annotations;
};

std::string JoinKeys(const std::map<std::string, std::string>& m) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  return Join(keys, ",");
}

std::set<std::string> SplitKeys(const std::optional<std::string>& s) {
  std::set<std::string> out;
  if (!s) return out;
  for (auto& k : Split(*s, ','))
    if (!k.empty()) out.insert(k);
  return out;
}

PodMeta DesiredPodMeta(const Json& sandbox) {
  PodMeta m;
  std::map<std::string, std::string> tl =
      StringMap(Find(sandbox, "spec.podTemplate.metadata.labels"));
  std::map<std::string, std::string> ta =
      StringMap(Find(sandbox, "spec.podTemplate.metadata.annotations"));
  std::map<std::string, std::string> prop_labels, prop_annotations;
  for (const auto& [k, v] : tl)
    if (!IsReservedKey(k)) prop_labels[k] = v;
  for (const auto& [k, v] : ta)
    if (!IsReservedKey(k)) prop_annotations[k] = v;
  m.labels = prop_labels;
  for (std::string_view k : kExtensionLabels)
    if (auto v = Label(sandbox, k)) m.labels[std::string(k)] = *v;
  if (auto v = Label(sandbox, kLabelCreatedBy)) m.labels[std::string(kLabelCreatedBy)] = *v;
  // Set last so a template label cannot spoof it.
  m.labels[std::string(kLabelSandboxNameHash)] = NameHash(Name(sandbox));
  m.annotations = prop_annotations;
  m.annotations[std::string(kAnnotationPropagatedLabels)] = JoinKeys(prop_labels);
  m.annotations[std::string(kAnnotationPropagatedAnnotations)] = JoinKeys(prop_annotations);
  return m;
}

// Merges desired metadata into an existing pod's: keys the controller manages (previously
// propagated ones, extension labels) are replaced; everything else (set by others) is kept.
PodMeta MergePodMeta(const Json& pod, const PodMeta& desired) {
  PodMeta out;
  std::map<std::string, std::string> labels = Labels(pod);
  std::map<std::string, std::string> annotations = Annotations(pod);
  std::set<std::string> managed_labels = SplitKeys(Annotation(pod, kAnnotationPropagatedLabels));
  for (std::string_view k : kExtensionLabels) managed_labels.insert(std::string(k));
  managed_labels.insert(std::string(kLabelCreatedBy));
  managed_labels.insert(std::string(kLabelSandboxNameHash));
  std::set<std::string> managed_annotations =
      SplitKeys(Annotation(pod, kAnnotationPropagatedAnnotations));
  for (const auto& [k, v] : labels)
    if (!managed_labels.count(k)) out.labels[k] = v;
  for (const auto& [k, v] : annotations)
    if (!managed_annotations.count(k)) out.annotations[k] = v;
  for (const auto& [k, v] : desired.labels) out.labels[k] = v;
  for (const auto& [k, v] : desired.annotations) out.annotations[k] = v;
  return out;
}

bool ServiceWanted(const Json& sandbox) {
  const Json* s = Find(sandbox, "spec.service");
  return !(s && s->is_boolean() && !s->get<bool>());
}

bool ServiceUnwanted(const Json& sandbox) { return !ServiceWanted(sandbox); }

// v1beta1 PodScheduled: mirrors the owned pod's condition while there is one (the embedded node
// binds pods at creation, so a pod with spec.nodeName counts as scheduled).
Condition PodScheduled(const Json& pod, int64_t gen) {
  if (const Json* c = FindCondition(pod, "PodScheduled"))
    return Condition{std::string(kCondPodScheduled), GetString(*c, "status", "Unknown"),
                     GetString(*c, "reason", "PodScheduled"), GetString(*c, "message"), gen};
  if (!GetString(pod, "spec.nodeName").empty())
    return Condition{std::string(kCondPodScheduled), "True", "PodScheduled", "", gen};
  return Condition{std::string(kCondPodScheduled), "Unknown", "PodSchedulingUnknown", "", gen};
}

Json PodIPs(const Json& pod) {
  Json ips = Json::array();
  if (const Json* list = Find(pod, "status.podIPs"); list && list->is_array()) {
    for (const Json& e : *list) {
      std::string ip = GetString(e, "ip");
      if (!ip.empty()) ips.push_back(ip);
    }
  }
  if (ips.empty()) {
    std::string ip = GetString(pod, "status.podIP");
    if (!ip.empty()) ips.push_back(ip);
  }
  return ips;
}

struct PodReadiness {
  bool ready = false;
  std::string reason = std::string(kReasonDependenciesNotReady);
  std::string message;
  bool terminal = false;
};

// "container python-runtime exited with code 137 (Error)" for the pod's first terminated or
// restarting container, so a Sandbox (and the claim that mirrors it) says why its runtime server
// is gone instead of only the pod's phase.
std::string ContainerExit(const Json& pod) {
  const Json* statuses = Find(pod, "status.containerStatuses");
  if (!statuses || !statuses->is_array()) return "";
  for (const Json& c : *statuses) {
    const Json* t = Find(c, "state.terminated");
    if (!t && !Find(c, "state.running")) t = Find(c, "lastState.terminated");
    if (!t || !t->is_object()) continue;
    std::string out = "container " + GetString(c, "name") + " exited with code " +
                      std::to_string(t->value("exitCode", 0));
    std::string why = GetString(*t, "reason");
    if (!why.empty()) out += " (" + why + ")";
    if (const Json* w = Find(c, "state.waiting.reason"); w && w->is_string())
      out += ", now " + w->get<std::string>();
    return out;
  }
  return "";
}

PodReadiness AssessPod(const Json* pod) {
  PodReadiness r;
  if (!pod) {
    r.message = "Pod does not exist";
    return r;
  }
  if (IsDeleting(*pod)) {
    r.message = "Pod is terminating";
    return r;
  }
  std::string phase = GetString(*pod, "status.phase", "Pending");
  if (phase == "Succeeded") {
    r.reason = std::string(kReasonPodSucceeded);
    std::string exit = ContainerExit(*pod);
    r.message = exit.empty() ? "Pod has completed successfully"
                             : "Pod has completed: " + exit +
                                   "; its restartPolicy does not restart it, so this sandbox "
                                   "no longer serves (delete it or its claim for a new one)";
    r.terminal = true;
    return r;
  }
  if (phase == "Failed") {
    r.reason = std::string(kReasonPodFailed);
    std::string detail = GetString(*pod, "status.message");
    if (detail.empty()) detail = ContainerExit(*pod);
    r.message = detail.empty() ? "Pod failed" : "Pod failed: " + detail;
    r.terminal = true;
    return r;
  }
  if (phase == "Running") {
    if (ConditionTrue(*pod, "Ready")) {
      r.ready = true;
      r.message = "Pod is Ready";
    } else {
      std::string exit = ContainerExit(*pod);
      r.message =
          exit.empty() ? "Pod is Running but not Ready" : "Pod is Running but not Ready: " + exit;
    }
    return r;
  }
  r.message = "Pod is " + phase;
  return r;
}

}  // namespace

Json BuildPod(const Json& sandbox, const SandboxOptions& options) {
  PodMeta meta = DesiredPodMeta(sandbox);
  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", Name(sandbox)},
        {"namespace", Namespace(sandbox)},
        {"labels", MapToJson(meta.labels)},
        {"annotations", MapToJson(meta.annotations)},
        {"ownerReferences", Json::array({MakeControllerRef(api::SandboxResource(), sandbox)})}}}};
  const Json* spec = Find(sandbox, "spec.podTemplate.spec");
  pod["spec"] = spec && spec->is_object() ? *spec : Json::object();
  AddClaimVolumes(sandbox, pod["spec"]);
  if (!options.node_name.empty() && GetString(pod, "spec.nodeName").empty())
    pod["spec"]["nodeName"] = options.node_name;
  return pod;
}

Json BuildService(const Json& sandbox) {
  std::string hash = NameHash(Name(sandbox));
  // Ports from the main containers' containerPorts, de-duplicated by (port, protocol); unnamed
  // ports get p-<port>-<proto> as upstream.
  Json ports = Json::array();
  std::set<std::pair<int64_t, std::string>> seen;
  if (const Json* cs = Find(sandbox, "spec.podTemplate.spec.containers"); cs && cs->is_array()) {
    for (const Json& c : *cs) {
      const Json* ps = Find(c, "ports");
      if (!ps || !ps->is_array()) continue;
      for (const Json& p : *ps) {
        const Json* num = Find(p, "containerPort");
        if (!num || !num->is_number_integer()) continue;
        int64_t port = num->get<int64_t>();
        std::string proto = GetString(p, "protocol", "TCP");
        if (!seen.insert({port, proto}).second) continue;
        std::string name = GetString(p, "name");
        if (name.empty()) name = "p-" + std::to_string(port) + "-" + ToLower(proto);
        ports.push_back(
            {{"name", name}, {"port", port}, {"targetPort", port}, {"protocol", proto}});
      }
    }
  }
  Json svc = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       {{"name", Name(sandbox)},
        {"namespace", Namespace(sandbox)},
        {"labels", {{std::string(kLabelSandboxNameHash), hash}}},
        {"ownerReferences", Json::array({MakeControllerRef(api::SandboxResource(), sandbox)})}}},
      {"spec",
       {{"clusterIP", "None"},
        {"selector", {{std::string(kLabelSandboxNameHash), hash}}},
        {"ports", ports}}}};
  return svc;
}

SandboxPlan PlanSandbox(const Json& sandbox, const std::optional<Json>& pod,
                        const std::optional<Json>& service, SystemTime now,
                        const SandboxOptions& options) {
  SandboxPlan plan;
  const int64_t gen = Generation(sandbox);
  const std::string name = Name(sandbox);
  const std::string ns = Namespace(sandbox);
  const Json* old_status = Find(sandbox, "status");
  Json conditions = Json::array();
  if (old_status) {
    if (const Json* c = Find(*old_status, "conditions"); c && c->is_array()) conditions = *c;
  }
  const bool pod_owned = pod && IsControlledBy(*pod, sandbox);
  const bool svc_owned = service && IsControlledBy(*service, sandbox);
  auto set_ready = [&](bool ready, std::string_view reason, const std::string& message) {
    conditions = SetCondition(conditions,
                              Condition{std::string(kCondReady), ready ? "True" : "False",
                                        std::string(reason), message, gen},
                              now);
  };

  Json status = Json::object();
  status["observedGeneration"] = gen;
  status["selector"] = std::string(kLabelSandboxNameHash) + "=" + NameHash(name);

  // 1. Expiry.
  std::string shutdown = GetString(sandbox, "spec.shutdownTime");
  if (!shutdown.empty()) {
    std::optional<SystemTime> at = ParseRfc3339(shutdown);
    if (at && *at <= now) {
      plan.status_first = true;
      if (pod_owned && !IsDeleting(*pod)) {
        plan.delete_pod = Name(*pod);
        plan.delete_pod_uid = Uid(*pod);
      }
      if (svc_owned && !IsDeleting(*service)) {
        plan.delete_service = Name(*service);
        plan.delete_service_uid = Uid(*service);
      }
      plan.delete_sandbox = GetString(sandbox, "spec.shutdownPolicy", "Retain") == "Delete";
      set_ready(false, kReasonSandboxExpired, "Sandbox has expired");
      // Retain: clear status except conditions (and the selector, which is static).
      status["conditions"] = RemoveCondition(conditions, kCondPodScheduled);
      plan.status = std::move(status);
      return plan;
    }
    if (at)
      plan.requeue = Requeue::After(std::chrono::duration_cast<Duration>(*at - now) + Duration(1));
  }

  // 2. Service.
  bool service_exists = svc_owned && !IsDeleting(*service);
  std::string conflict;
  if (service && !svc_owned) {
    conflict = "Service " + Name(*service) + " exists and is not controlled by this Sandbox";
  } else if (ServiceWanted(sandbox) && !service) {
    plan.create_service = BuildService(sandbox);
    service_exists = true;
  } else if (ServiceUnwanted(sandbox) && svc_owned && !IsDeleting(*service)) {
    plan.delete_service = Name(*service);
    plan.delete_service_uid = Uid(*service);
    service_exists = false;
  }
  if (service_exists) {
    status["service"] = name;
    status["serviceFQDN"] = name + "." + ns + ".svc." + options.cluster_domain;
  }

  // 3. Pod.
  const bool suspended = api::SandboxSuspended(sandbox);
  // The pod this Sandbox reads its state from (not copied: pods are the largest objects here).
  const Json* effective_pod = pod_owned ? &*pod : nullptr;
  if (pod && !pod_owned) {
    conflict = "Pod " + Name(*pod) + " exists and is not controlled by this Sandbox";
  } else if (suspended) {
    if (pod_owned && !IsDeleting(*pod)) {
      plan.delete_pod = Name(*pod);
      plan.delete_pod_uid = Uid(*pod);
    }
  } else if (!pod) {
    const Json* containers = Find(sandbox, "spec.podTemplate.spec.containers");
    if (!containers || !containers->is_array() || containers->empty())
      conflict = "spec.podTemplate.spec.containers: Required value: the pod needs a container";
    else
      plan.create_pod = BuildPod(sandbox, options);
  } else if (!IsDeleting(*pod)) {
    PodMeta merged = MergePodMeta(*pod, DesiredPodMeta(sandbox));
    if (merged.labels != Labels(*pod) || merged.annotations != Annotations(*pod)) {
      Json updated = *pod;
      updated["metadata"]["labels"] = MapToJson(merged.labels);
      updated["metadata"]["annotations"] = MapToJson(merged.annotations);
      plan.update_pod = std::move(updated);
    }
  }
  const std::string pod_name = pod ? Name(*pod) : name;
  const bool pod_present = (pod_owned && !IsDeleting(*pod)) || plan.create_pod.has_value();
  std::optional<std::string> ann = Annotation(sandbox, kAnnotationPodName);
  if (!suspended && pod_present && ann != pod_name) {
    plan.update_sandbox = sandbox;
    SetAnnotation(*plan.update_sandbox, kAnnotationPodName, pod_name);
  } else if (suspended && !pod && ann) {
    plan.update_sandbox = sandbox;
    (*plan.update_sandbox)["metadata"]["annotations"].erase(std::string(kAnnotationPodName));
  }

  // 4. Status.
  const bool has_pod = pod_owned && !IsDeleting(*pod) && !plan.delete_pod;
  if (has_pod) {
    conditions = SetCondition(conditions, PodScheduled(*pod, gen), now);
    std::string node = GetString(*pod, "spec.nodeName");
    if (!node.empty()) status["nodeName"] = node;
  } else {
    conditions = RemoveCondition(conditions, kCondPodScheduled);
  }
  if (effective_pod && !suspended) {
    Json ips = PodIPs(*effective_pod);
    if (!ips.empty()) status["podIPs"] = ips;
  }
  PodReadiness pr = AssessPod(plan.create_pod ? nullptr : effective_pod);
  if (plan.create_pod) pr.message = "Pod is being created";
  if (pr.terminal) {
    conditions = SetCondition(
        conditions, Condition{std::string(kCondFinished), "True", pr.reason, pr.message, gen}, now);
  } else {
    conditions = RemoveCondition(conditions, kCondFinished);
  }
  if (suspended) {
    bool gone = !pod_owned;
    conditions =
        SetCondition(conditions,
                     Condition{std::string(kCondSuspended), gone ? "True" : "False",
                               std::string(gone ? kReasonPodTerminated : kReasonPodTerminating),
                               gone ? "Pod is terminated" : "Pod is terminating", gen},
                     now);
  } else {
    conditions = RemoveCondition(conditions, kCondSuspended);
  }

  if (!conflict.empty()) {
    set_ready(false, kReasonReconcilerError, "Error seen: " + conflict);
  } else if (suspended) {
    set_ready(false, kReasonSandboxSuspended, pod_owned ? "suspending" : "suspended");
  } else if (pr.terminal) {
    set_ready(false, pr.reason, pr.message);
  } else {
    bool svc_ok = service_exists || !ServiceWanted(sandbox);
    std::string msg = pr.message;
    if (ServiceWanted(sandbox))
      msg += service_exists ? "; Service Exists" : "; Service does not exist";
    // Embedded-mode divergence (see header): no podIPs requirement.
    bool ready = pr.ready && svc_ok;
    set_ready(ready, ready ? kReasonDependenciesReady : kReasonDependenciesNotReady, msg);
  }
  status["conditions"] = conditions;
  plan.status = std::move(status);
  return plan;
}

Json ErrorStatus(const Json& sandbox, const Json& planned_status, const std::string& error,
                 SystemTime now) {
  Json status = planned_status;
  const Json* c = Find(planned_status, "conditions");
  status["conditions"] =
      SetCondition(c ? *c : Json::array(),
                   Condition{std::string(kCondReady), "False", std::string(kReasonReconcilerError),
                             "Error seen: " + error, Generation(sandbox)},
                   now);
  return status;
}

}  // namespace asb::controller
