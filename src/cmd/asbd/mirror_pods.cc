#include "cmd/asbd/mirror_pods.h"

#include <cstdint>

#include "api/resource.h"
#include "base/clock.h"
#include "base/log.h"

namespace asb::asbd {

namespace {

using api::EmbeddedComponent;

// Kubernetes' pod-template-hash and name suffixes use this alphabet (no vowels, no look-alikes).
constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";

std::string HashString(std::string_view s, size_t len) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::string out;
  for (size_t i = 0; i < len; ++i) {
    out.push_back(kAlphabet[h % (sizeof(kAlphabet) - 1)]);
    h /= sizeof(kAlphabet) - 1;
    if (h == 0) h = 1469598103934665603ull ^ i;
  }
  return out;
}

Json Condition(const std::string& type, bool status) {
  return {{"type", type}, {"status", status ? "True" : "False"}};
}

// A Running (or, when unhealthy, not Ready) pod served by `component`.
Json MirrorPod(const std::string& ns, const std::string& name, Json labels, Json spec,
               EmbeddedComponent component, const MirrorInputs& in) {
  bool healthy =
      component == EmbeddedComponent::kController ? in.controller_healthy : in.router_healthy;
  std::string comp(api::ComponentName(component));
  labels[kMirrorLabel] = "true";
  spec["nodeName"] = in.node_name;
  Json statuses = Json::array();
  for (const auto& c : spec["containers"]) {
    statuses.push_back(
        {{"name", GetString(c, "name")},
         {"image", GetString(c, "image")},
         {"imageID", ""},
         {"containerID", "asbd://embedded-" + comp},
         {"ready", healthy},
         {"started", healthy},
         {"restartCount", 0},
         {"state", healthy ? Json{{"running", {{"startedAt", in.started_at}}}}
                           : Json{{"waiting", {{"reason", "ComponentUnhealthy"}}}}}});
  }
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"labels", labels},
                {"annotations",
                 {{kConfigMirrorAnnotation, "asbd"},
                  {"kubernetes.io/config.source", "asbd"},
                  {kComponentAnnotation, comp},
                  {"asb.dev/note", "mirror pod: served by asbd's embedded " + comp +
                                       ", not a container the node runs"}}}}},
              {"spec", spec},
              {"status",
               {{"phase", healthy ? "Running" : "Pending"},
                {"conditions",
                 Json::array({Condition("PodScheduled", true), Condition("Initialized", true),
                              Condition("ContainersReady", healthy), Condition("Ready", healthy)})},
                {"containerStatuses", statuses},
                {"hostIP", "127.0.0.1"},
                {"startTime", in.started_at},
                {"qosClass", "BestEffort"}}}};
  return pod;
}

Json StaticSpec(const std::string& container, const std::string& image, bool router) {
  Json c = {{"name", container}, {"image", image}};
  if (router)
    c["ports"] =
        Json::array({{{"name", "http"}, {"containerPort", kRouterPodPort}, {"protocol", "TCP"}}});
  return {{"containers", Json::array({c})}};
}

Json OwnerRef(const Json& owner, const std::string& kind) {
  return Json::array({{{"apiVersion", "apps/v1"},
                       {"kind", kind},
                       {"name", GetString(owner, "metadata.name")},
                       {"uid", GetString(owner, "metadata.uid")},
                       {"controller", true},
                       {"blockOwnerDeletion", true}}});
}

int64_t Replicas(const Json& workload) {
  const Json* r = Find(workload, "spec.replicas");
  return r && r->is_number_integer() ? std::max<int64_t>(0, r->get<int64_t>()) : 1;
}

// The fields a reconcile owns; anything else on a stored mirror pod (resourceVersion, uid...)
// is the store's.
bool SameMirror(const Json& have, const Json& want) {
  auto meta = [](const Json& p, const char* f) {
    const Json* v = Find(p, std::string("metadata.") + f);
    return v ? *v : Json();
  };
  for (const char* f : {"labels", "annotations", "ownerReferences"})
    if (meta(have, f) != meta(want, f)) return false;
  return have.value("spec", Json()) == want.value("spec", Json());
}

}  // namespace

EmbeddedComponent MirrorComponent(const Json& pod) {
  // Annotation keys contain dots, so no dotted-path lookup here.
  const Json* ann = Find(pod, "metadata.annotations");
  if (!ann || !ann->is_object() || !ann->contains(kComponentAnnotation))
    return EmbeddedComponent::kNone;
  const Json& v = (*ann)[kComponentAnnotation];
  std::string c = v.is_string() ? v.get<std::string>() : "";
  if (c == "controller") return EmbeddedComponent::kController;
  if (c == "router") return EmbeddedComponent::kRouter;
  return EmbeddedComponent::kNone;
}

std::map<std::string, Json> DesiredMirrorPods(const std::vector<Json>& deployments,
                                              const std::vector<Json>& statefulsets,
                                              const MirrorInputs& in) {
  std::map<std::string, Json> out;
  auto put = [&](Json pod) {
    std::string key = GetString(pod, "metadata.namespace") + "/" + GetString(pod, "metadata.name");
    out[key] = std::move(pod);
  };
  // Static pods first: a workload's pod of the same name takes their place.
  put(MirrorPod(kSystemNamespace, "agent-sandbox-controller-0",
                {{"app", "agent-sandbox-controller"}},
                StaticSpec("agent-sandbox-controller", "asbd/embedded-controller", false),
                EmbeddedComponent::kController, in));
  put(MirrorPod(kSystemNamespace, "sandbox-router-" + in.node_name, {{"app", "sandbox-router"}},
                StaticSpec("router", "asbd/embedded-router", true), EmbeddedComponent::kRouter,
                in));
  for (const auto& sts : statefulsets) {
    EmbeddedComponent comp = api::ComponentForWorkload(sts);
    if (comp == EmbeddedComponent::kNone || Find(sts, "metadata.deletionTimestamp")) continue;
    std::string name = GetString(sts, "metadata.name");
    std::string ns = GetString(sts, "metadata.namespace");
    Json tmpl = sts["spec"]["template"];
    std::string revision = name + "-" + HashString(DumpJson(tmpl), 10);
    for (int64_t i = 0; i < Replicas(sts); ++i) {
      std::string pod_name = name + "-" + std::to_string(i);
      Json labels = tmpl["metadata"].value("labels", Json::object());
      labels["statefulset.kubernetes.io/pod-name"] = pod_name;
      labels["apps.kubernetes.io/pod-index"] = std::to_string(i);
      labels["controller-revision-hash"] = revision;
      Json pod = MirrorPod(ns, pod_name, labels, tmpl.value("spec", Json::object()), comp, in);
      pod["metadata"]["ownerReferences"] = OwnerRef(sts, "StatefulSet");
      put(std::move(pod));
    }
  }
  for (const auto& deploy : deployments) {
    EmbeddedComponent comp = api::ComponentForWorkload(deploy);
    if (comp == EmbeddedComponent::kNone || Find(deploy, "metadata.deletionTimestamp")) continue;
    std::string name = GetString(deploy, "metadata.name");
    std::string ns = GetString(deploy, "metadata.namespace");
    Json tmpl = deploy["spec"]["template"];
    std::string hash = HashString(DumpJson(tmpl), 10);
    for (int64_t i = 0; i < Replicas(deploy); ++i) {
      std::string pod_name = name + "-" + hash + "-" +
                             HashString(GetString(deploy, "metadata.uid") + std::to_string(i), 5);
      Json labels = tmpl["metadata"].value("labels", Json::object());
      labels["pod-template-hash"] = hash;
      Json pod = MirrorPod(ns, pod_name, labels, tmpl.value("spec", Json::object()), comp, in);
      pod["metadata"]["ownerReferences"] = OwnerRef(deploy, "Deployment");
      put(std::move(pod));
    }
  }
  return out;
}

Json WorkloadStatus(const Json& workload, const std::string& kind, int64_t ready) {
  int64_t want = Replicas(workload);
  Json st = {{"observedGeneration", workload["metadata"].value("generation", 1)},
             {"replicas", want},
             {"readyReplicas", ready},
             {"availableReplicas", ready},
             {"updatedReplicas", want}};
  if (kind == "StatefulSet") {
    st["currentReplicas"] = want;
    std::string rev = GetString(workload, "metadata.name") + "-" +
                      HashString(DumpJson(workload["spec"]["template"]), 10);
    st["currentRevision"] = rev;
    st["updateRevision"] = rev;
  } else {
    bool available = ready >= want;
    st["conditions"] = Json::array(
        {{{"type", "Available"},
          {"status", available ? "True" : "False"},
          {"reason", available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable"},
          {"message", available ? "Deployment has minimum availability (served by asbd's "
                                  "embedded component)."
                                : "Deployment does not have minimum availability."}},
         {{"type", "Progressing"},
          {"status", "True"},
          {"reason", "NewReplicaSetAvailable"},
          {"message", "served by asbd's embedded component"}}});
  }
  return st;
}

// ---------------------------------------------------------------------------------------------

MirrorPods::MirrorPods(store::Store& store, MirrorPodsOptions options)
    : store_(store),
      options_(std::move(options)),
      started_at_(FormatRfc3339(RealClock::Get().Now())) {}

MirrorPods::~MirrorPods() { Stop(); }

Status MirrorPods::Start() {
  // The system namespace and the router Service that upstream's SDK port-forwards to.
  Json ns = {
      {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kSystemNamespace}}}};
  if (auto r = store_.Create(api::NamespaceResource(), ns);
      !r && r.error().code != Code::kAlreadyExists)
    return tl::unexpected(
        r.error().Wrap("mirror pods: namespace " + std::string(kSystemNamespace)));
  Json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata",
               {{"name", "sandbox-router-svc"},
                {"namespace", kSystemNamespace},
                {"labels", {{"app", "sandbox-router"}}}}},
              {"spec",
               {{"type", "ClusterIP"},
                {"selector", {{"app", "sandbox-router"}}},
                {"ports", Json::array({{{"name", "http"},
                                        {"protocol", "TCP"},
                                        {"port", kRouterPodPort},
                                        {"targetPort", kRouterPodPort}}})}}}};
  if (auto r = store_.Create(api::ServiceResource(), svc);
      !r && r.error().code != Code::kAlreadyExists)
    return tl::unexpected(r.error().Wrap("mirror pods: router Service"));
  ASB_RETURN_IF_ERROR(ReconcileOnce());
  threads_.emplace_back([this] { WatchLoop(&api::DeploymentResource(), ""); });
  threads_.emplace_back([this] { WatchLoop(&api::StatefulSetResource(), ""); });
  threads_.emplace_back(
      [this] { WatchLoop(&api::PodResource(), std::string(kMirrorLabel) + "=true"); });
  threads_.emplace_back([this] { Loop(); });
  return OkStatus();
}

void MirrorPods::Stop() {
  stopping_ = true;
  Wake();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void MirrorPods::Wake() {
  std::lock_guard l(mu_);
  dirty_ = true;
  cv_.notify_all();
}

void MirrorPods::WatchLoop(const api::ResourceInfo* res, std::string label_selector) {
  while (!stopping_) {
    store::WatchOptions wo;
    wo.label_selector = label_selector;
    wo.resource_version = store_.CurrentRevision();
    auto w = store_.Watch(*res, "", wo);
    if (!w) {
      ASB_LOG(WARN, "mirror pods: watch failed", "kind", res->kind, "error", w.error().message);
      std::unique_lock l(mu_);
      cv_.wait_for(l, options_.resync, [&] { return stopping_.load(); });
      continue;
    }
    Wake();  // whatever happened before this watch started
    while (!stopping_) {
      auto ev = (*w)->Next(std::chrono::milliseconds(200));
      if (!ev) break;  // kGone: start a new watch
      if (ev->has_value()) Wake();
    }
  }
}

void MirrorPods::Loop() {
  while (!stopping_) {
    {
      std::unique_lock l(mu_);
      cv_.wait_for(l, options_.resync, [&] { return dirty_ || stopping_; });
      dirty_ = false;
    }
    if (stopping_) break;
    if (auto s = ReconcileOnce(); !s)
      ASB_LOG(WARN, "mirror pods: reconcile failed", "error", s.error().message);
  }
}

Status MirrorPods::ReconcileOnce() {
  std::lock_guard serial(reconcile_mu_);  // the loop and direct callers never interleave
  auto healthy = [&](EmbeddedComponent c) { return !options_.healthy || options_.healthy(c); };
  MirrorInputs in{options_.node_name, started_at_, healthy(EmbeddedComponent::kController),
                  healthy(EmbeddedComponent::kRouter)};
  ASB_ASSIGN_OR_RETURN(store::ListResult deploys, store_.List(api::DeploymentResource(), "", {}));
  ASB_ASSIGN_OR_RETURN(store::ListResult sets, store_.List(api::StatefulSetResource(), "", {}));
  std::map<std::string, Json> want = DesiredMirrorPods(deploys.items, sets.items, in);

  store::ListOptions lo;
  lo.label_selector = std::string(kMirrorLabel) + "=true";
  ASB_ASSIGN_OR_RETURN(store::ListResult have, store_.List(api::PodResource(), "", lo));
  std::map<std::string, Json> existing;
  for (auto& p : have.items) {
    // The key first: nlohmann's operator= takes its argument by value, which would move `p`
    // out before the key expression reads it.
    std::string key = GetString(p, "metadata.namespace") + "/" + GetString(p, "metadata.name");
    existing[key] = std::move(p);
  }

  for (auto& [key, pod] : want) {
    auto it = existing.find(key);
    Json stored;
    if (it == existing.end()) {
      auto created = store_.Create(api::PodResource(), pod);
      if (!created) {
        // A user's own pod of that name, or a namespace that is gone: leave it.
        if (created.error().code != Code::kAlreadyExists && created.error().code != Code::kNotFound)
          ASB_LOG(WARN, "mirror pods: create failed", "pod", key, "error", created.error().message);
        continue;
      }
      stored = std::move(*created);
    } else {
      stored = std::move(it->second);
      existing.erase(it);
      if (Find(stored, "metadata.deletionTimestamp")) continue;
      if (!SameMirror(stored, pod)) {
        Json next = stored;
        next["metadata"]["labels"] = pod["metadata"]["labels"];
        next["metadata"]["annotations"] = pod["metadata"]["annotations"];
        if (pod["metadata"].contains("ownerReferences"))
          next["metadata"]["ownerReferences"] = pod["metadata"]["ownerReferences"];
        else
          next["metadata"].erase("ownerReferences");
        next["spec"] = pod["spec"];
        auto updated = store_.Update(api::PodResource(), next);
        if (!updated) continue;  // conflict: the next pass retries
        stored = std::move(*updated);
      }
    }
    stored["status"] = pod["status"];
    if (auto s = store_.Update(api::PodResource(), stored, {.status_only = true}); !s)
      ASB_LOG(DEBUG, "mirror pods: status write failed", "pod", key, "error", s.error().message);
  }
  for (auto& [key, pod] : existing) {
    auto s = store_.Delete(api::PodResource(), GetString(pod, "metadata.namespace"),
                           GetString(pod, "metadata.name"));
    if (!s && s.error().code != Code::kNotFound)
      ASB_LOG(WARN, "mirror pods: delete failed", "pod", key, "error", s.error().message);
  }

  // Served workloads report their mirror pods.
  for (auto* list : {&deploys, &sets}) {
    const api::ResourceInfo& res =
        list == &deploys ? api::DeploymentResource() : api::StatefulSetResource();
    for (auto& w : list->items) {
      EmbeddedComponent comp = api::ComponentForWorkload(w);
      if (comp == EmbeddedComponent::kNone) continue;
      bool ok = comp == EmbeddedComponent::kController ? in.controller_healthy : in.router_healthy;
      w["status"] = WorkloadStatus(w, res.kind, ok ? Replicas(w) : 0);
      if (auto s = store_.Update(res, w, {.status_only = true}); !s)
        ASB_LOG(DEBUG, "mirror pods: workload status write failed", "name",
                GetString(w, "metadata.name"), "error", s.error().message);
    }
  }
  return OkStatus();
}

}  // namespace asb::asbd
