#include "api/crd.h"

#include <map>
#include <utility>

#include "api/schema.h"
#include "api/table.h"

namespace asb::api {

namespace {

// JSONPath of each printer column TableCells computes in code (api/table.cc), per kind. Both
// versions share them: v1alpha1 claims carry status.sandbox.name as well as the v0.1.0 Name.
const std::map<std::pair<std::string, std::string>, std::string>& ColumnPaths() {
  static const auto* kPaths = new std::map<std::pair<std::string, std::string>, std::string>{
      {{"Sandbox", "Ready"}, ".status.conditions[?(@.type=='Ready')].status"},
      {{"Sandbox", "Reason"}, ".status.conditions[?(@.type=='Ready')].reason"},
      {{"SandboxClaim", "Ready"}, ".status.conditions[?(@.type=='Ready')].status"},
      {{"SandboxClaim", "Sandbox"}, ".status.sandbox.name"},
      {{"SandboxClaim", "Reason"}, ".status.conditions[?(@.type=='Ready')].reason"},
      {{"SandboxWarmPool", "Ready"}, ".status.readyReplicas"},
      {{"SandboxWarmPool", "Desired"}, ".spec.replicas"},
  };
  return *kPaths;
}

// Removes what a CRD schema (JSONSchemaProps) has no field for: kube-apiserver's strict decoding
// would reject the CRD. Strategic merge patch does not apply to custom resources anyway
// (kubectl falls back to JSON merge patch), so nothing is lost.
void StripForCrd(Json& node) {
  if (!node.is_object()) return;
  node.erase("x-kubernetes-patch-merge-key");
  node.erase("x-kubernetes-patch-strategy");
  if (auto it = node.find("properties"); it != node.end())
    for (auto& [name, child] : it->items()) StripForCrd(child);
  for (const char* key : {"items", "additionalProperties"})
    if (auto it = node.find(key); it != node.end()) StripForCrd(*it);
}

const ResourceInfo* Served(std::string_view kind, std::string_view version) {
  for (const auto& r : AllResources())
    if (IsAgentsKind(r) && r.kind == kind && r.version == version) return &r;
  return nullptr;
}

Json VersionEntry(const ResourceInfo& res, bool storage) {
  Json v = {{"name", res.version},
            {"served", true},
            {"storage", storage},
            {"schema", {{"openAPIV3Schema", CrdVersionSchema(res)}}}};
  if (!storage) {
    v["deprecated"] = true;
    v["deprecationWarning"] = res.ApiVersion() + " " + res.kind + " is deprecated; use " +
                              res.group + "/v1beta1 " + res.kind + " instead";
  }
  Json columns = CrdPrinterColumns(res);
  if (!columns.empty()) v["additionalPrinterColumns"] = std::move(columns);
  Json sub = Json::object();
  if (res.has_status) sub["status"] = Json::object();
  if (res.has_scale)
    sub["scale"] = {{"specReplicasPath", ".spec.replicas"},
                    {"statusReplicasPath", ".status.replicas"},
                    {"labelSelectorPath", ".status.selector"}};
  if (!sub.empty()) v["subresources"] = std::move(sub);
  return v;
}

}  // namespace

Json CrdVersionSchema(const ResourceInfo& res) {
  Json schema = ToOpenApi(KindSchema(res));
  StripForCrd(schema);
  // kube-apiserver validates and prunes ObjectMeta itself and refuses CRD schemas that describe
  // more of it than name/generateName.
  schema["properties"]["metadata"] = {{"type", "object"}};
  schema["properties"]["apiVersion"] = {
      {"type", "string"},
      {"description",
       "APIVersion defines the versioned schema of this representation of an object."}};
  schema["properties"]["kind"] = {
      {"type", "string"},
      {"description",
       "Kind is a string value representing the REST resource this object "
       "represents."}};
  if (!schema.contains("description"))
    schema["description"] = res.kind + " is the Schema for the " + res.plural + " API.";
  return schema;
}

Json CrdPrinterColumns(const ResourceInfo& res) {
  Json out = Json::array();
  const std::vector<TableColumn>& cols = TableColumns(res);
  if (cols.size() <= 2) return out;  // Name and Age: kube-apiserver's default table
  for (const TableColumn& c : cols) {
    if (c.format == "name") continue;
    Json col = {{"name", c.name}};
    if (c.name == "Age") {
      col["type"] = "date";
      col["jsonPath"] = ".metadata.creationTimestamp";
    } else {
      auto it = ColumnPaths().find({res.kind, c.name});
      if (it == ColumnPaths().end()) continue;  // crd_test checks that none is missing
      col["type"] = c.type;
      col["jsonPath"] = it->second;
    }
    if (!c.description.empty()) col["description"] = c.description;
    if (c.priority != 0) col["priority"] = c.priority;
    out.push_back(std::move(col));
  }
  return out;
}

Result<Json> CustomResourceDefinitionFor(std::string_view kind, const CrdOptions& options) {
  const ResourceInfo* beta = Served(kind, "v1beta1");
  const ResourceInfo* alpha = Served(kind, "v1alpha1");
  if (!beta || !alpha)
    return MakeError(Code::kNotFound, "no CustomResourceDefinition for kind " + std::string(kind));
  Json names = {{"kind", beta->kind},
                {"listKind", beta->ListKind()},
                {"plural", beta->plural},
                {"singular", beta->singular}};
  if (!beta->short_names.empty()) names["shortNames"] = beta->short_names;
  Json client_config = {{"service",
                         {{"name", options.webhook_service},
                          {"namespace", options.webhook_namespace},
                          {"path", options.webhook_path},
                          {"port", options.webhook_port}}}};
  if (!options.ca_bundle_base64.empty()) client_config["caBundle"] = options.ca_bundle_base64;
  return Json{{"apiVersion", "apiextensions.k8s.io/v1"},
              {"kind", "CustomResourceDefinition"},
              {"metadata",
               {{"name", beta->GroupResource()},
                {"labels", {{"app.kubernetes.io/part-of", "agent-sandbox"}}}}},
              {"spec",
               {{"group", beta->group},
                {"names", std::move(names)},
                {"scope", beta->namespaced ? "Namespaced" : "Cluster"},
                {"versions", Json::array({VersionEntry(*beta, true), VersionEntry(*alpha, false)})},
                {"conversion",
                 {{"strategy", "Webhook"},
                  {"webhook",
                   {{"conversionReviewVersions", Json::array({"v1"})},
                    {"clientConfig", std::move(client_config)}}}}}}}};
}

std::vector<Json> AgentSandboxCrds(const CrdOptions& options) {
  std::vector<Json> out;
  for (const auto& r : AllResources()) {
    if (!IsAgentsKind(r) || r.version != "v1beta1") continue;
    if (auto crd = CustomResourceDefinitionFor(r.kind, options)) out.push_back(std::move(*crd));
  }
  return out;
}

}  // namespace asb::api
