#include "api/workloads.h"

#include "base/strings.h"

namespace asb::api {

namespace {

// The image's repository path without registry host and tag/digest:
// "host:5000/agent-sandbox/sandbox-router:v1" -> "agent-sandbox/sandbox-router".
std::string RepositoryPath(std::string_view image) {
  std::string_view s = image;
  if (size_t at = s.find('@'); at != std::string_view::npos) s = s.substr(0, at);
  if (size_t scheme = s.find("://"); scheme != std::string_view::npos) s = s.substr(scheme + 3);
  size_t slash = s.rfind('/');
  if (size_t colon = s.rfind(':');
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
    s = s.substr(0, colon);
  return std::string(s);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

FieldErrors AdmitCrd(Json& crd) {
  FieldErrors out;
  std::string group = GetString(crd, "spec.group");
  std::string kind = GetString(crd, "spec.names.kind");
  std::string plural = GetString(crd, "spec.names.plural");
  const ResourceInfo* served = nullptr;
  for (const auto& r : AllResources())
    if (!r.group.empty() && r.group == group && r.kind == kind && r.plural == plural) served = &r;
  if (!served) {
    std::string builtin;
    for (const auto& r : AllResources())
      if (r.group == kAgentsGroup || r.group == kExtensionsGroup)
        builtin += (builtin.empty() ? "" : ", ") + r.kind + "." + r.group;
    out.push_back({FieldErrorType::kNotSupported, "spec.names.kind", kind + "." + group,
                   "embedded asbd serves only its built-in kinds: " + builtin});
    return out;
  }
  if (GetString(crd, "metadata.name") != plural + "." + group)
    out.push_back({FieldErrorType::kInvalid, "metadata.name", GetString(crd, "metadata.name"),
                   "must be spec.names.plural+\".\"+spec.group"});
  // The kind is built in, so the definition is established the moment it is accepted.
  Json names = crd["spec"]["names"];
  crd["status"] = {
      {"acceptedNames", names},
      {"storedVersions", Json::array({served->version})},
      {"conditions",
       Json::array(
           {{{"type", "NamesAccepted"},
             {"status", "True"},
             {"reason", "NoConflicts"},
             {"message", "no conflicts found"}},
            {{"type", "Established"},
             {"status", "True"},
             {"reason", "InitialNamesAccepted"},
             {"message", "the initial names have been accepted (served natively by asbd)"}}})}};
  return out;
}

// The apps/v1 defaults kube-apiserver fills in (kubectl rollout status reads updateStrategy).
void DefaultWorkload(const ResourceInfo& res, Json& obj) {
  if (!obj.contains("spec") || !obj["spec"].is_object()) return;
  Json& spec = obj["spec"];
  auto set = [](Json& j, const char* key, Json v) {
    if (!j.contains(key) || j[key].is_null()) j[key] = std::move(v);
  };
  set(spec, "replicas", 1);
  set(spec, "revisionHistoryLimit", 10);
  if (res.kind == "StatefulSet") {
    set(spec, "podManagementPolicy", "OrderedReady");
    set(spec, "updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 0}}}});
  } else {
    set(spec, "progressDeadlineSeconds", 600);
    set(spec, "strategy",
        {{"type", "RollingUpdate"},
         {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}});
  }
}

}  // namespace

std::string_view ComponentName(EmbeddedComponent c) {
  switch (c) {
    case EmbeddedComponent::kController:
      return "controller";
    case EmbeddedComponent::kRouter:
      return "router";
    case EmbeddedComponent::kNone:
      break;
  }
  return "";
}

EmbeddedComponent ComponentForImage(std::string_view image) {
  std::string path = RepositoryPath(image);
  // The ko:// placeholder is sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller.
  if (EndsWith(path, "agent-sandbox/agent-sandbox-controller") ||
      EndsWith(path, "agent-sandbox/cmd/agent-sandbox-controller"))
    return EmbeddedComponent::kController;
  if (EndsWith(path, "agent-sandbox/sandbox-router")) return EmbeddedComponent::kRouter;
  return EmbeddedComponent::kNone;
}

EmbeddedComponent ComponentForWorkload(const Json& workload) {
  const Json* containers = Find(workload, "spec.template.spec.containers");
  if (!containers || !containers->is_array()) return EmbeddedComponent::kNone;
  for (const auto& c : *containers)
    if (auto comp = ComponentForImage(GetString(c, "image")); comp != EmbeddedComponent::kNone)
      return comp;
  return EmbeddedComponent::kNone;
}

bool IsWorkloadKind(const ResourceInfo& res) {
  return res.group == "apps" && (res.kind == "Deployment" || res.kind == "StatefulSet");
}

FieldErrors AdmitStoredOnly(const ResourceInfo& res, Json& obj,
                            std::vector<std::string>* warnings) {
  if (res.kind == "CustomResourceDefinition" && res.group == "apiextensions.k8s.io")
    return AdmitCrd(obj);
  if (IsWorkloadKind(res)) DefaultWorkload(res, obj);
  if (IsWorkloadKind(res) && ComponentForWorkload(obj) == EmbeddedComponent::kNone)
    warnings->push_back(res.kind + " " + GetString(obj, "metadata.namespace") + "/" +
                        GetString(obj, "metadata.name") +
                        " is stored, but embedded asbd does not run it: only upstream's "
                        "agent-sandbox controller and sandbox-router images are served (by "
                        "asbd's embedded components)");
  return {};
}

}  // namespace asb::api
