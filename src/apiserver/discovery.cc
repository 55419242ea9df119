#include "apiserver/discovery.h"

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "api/resource.h"
#include "api/schema.h"

namespace asb::apiserver {

namespace {

const std::vector<std::string> kVerbs = {"create", "delete", "deletecollection", "get",
                                         "list",   "patch",  "update",           "watch"};

std::vector<std::string> Groups() {
  std::vector<std::string> out;
  for (const auto& r : api::AllResources())
    if (!r.group.empty() && std::find(out.begin(), out.end(), r.group) == out.end())
      out.push_back(r.group);
  return out;
}

std::vector<std::string> VersionsOf(const std::string& group) {
  std::vector<std::string> out;
  for (const auto& r : api::AllResources())
    if (r.group == group && std::find(out.begin(), out.end(), r.version) == out.end())
      out.push_back(r.version);
  return out;
}

Json GroupJson(const std::string& group) {
  Json versions = Json::array();
  for (const auto& v : VersionsOf(group))
    versions.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"name", group}, {"versions", versions}, {"preferredVersion", versions[0]}};
}

std::string GvPath(const api::ResourceInfo& r) {
  return r.group.empty() ? "api/" + r.version : "apis/" + r.group + "/" + r.version;
}

std::string SchemaName(const api::ResourceInfo& r) {
  // Reverse-DNS like Kubernetes: io.k8s.api.core.v1.Pod / io.x-k8s.agents.v1alpha1.Sandbox.
  if (r.group.empty()) return "io.k8s.api.core." + r.version + "." + r.kind;
  std::vector<std::string> parts;
  std::string g = r.group;
  size_t start = 0;
  while (true) {
    size_t dot = g.find('.', start);
    parts.push_back(g.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += *it + ".";
  return out + r.version + "." + r.kind;
}

Json Gvk(const api::ResourceInfo& r) {
  return {{"group", r.group}, {"version", r.version}, {"kind", r.kind}};
}

Json BuildDocument(const std::string& gv_path) {
  Json paths = Json::object();
  Json schemas = Json::object();
  Json field_validation = {{"name", "fieldValidation"},
                           {"in", "query"},
                           {"description", "Strict, Warn or Ignore: handling of unknown fields"},
                           {"schema", {{"type", "string"}, {"uniqueItems", true}}}};
  for (const auto& r : api::AllResources()) {
    if (GvPath(r) != gv_path) continue;
    std::string base = "/" + gv_path + "/";
    std::string item = r.namespaced ? base + "namespaces/{namespace}/" + r.plural + "/{name}"
                                    : base + r.plural + "/{name}";
    std::string name = SchemaName(r);
    Json ref = {{"$ref", "#/components/schemas/" + name}};
    Json ok = {
        {"200", {{"description", "OK"}, {"content", {{"application/json", {{"schema", ref}}}}}}}};
    Json op = {{"x-kubernetes-group-version-kind", Gvk(r)},
               {"parameters", Json::array({field_validation})},
               {"responses", ok}};
    Json get = {{"x-kubernetes-group-version-kind", Gvk(r)}, {"responses", ok}};
    paths[item] = {{"get", get}, {"put", op}, {"patch", op}};
    Json schema = api::ToOpenApi(api::KindSchema(r));
    schema["x-kubernetes-group-version-kind"] = Json::array({Gvk(r)});
    schemas[name] = std::move(schema);
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "asb"}, {"version", "v1"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

struct OpenApiCache {
  std::once_flag once;
  std::map<std::string, Json> docs;
  std::map<std::string, std::string> hashes;
};

OpenApiCache& Cache() {
  static OpenApiCache cache;
  std::call_once(cache.once, [] {
    std::set<std::string> gvs;
    for (const auto& r : api::AllResources()) gvs.insert(GvPath(r));
    for (const auto& gv : gvs) {
      Json doc = BuildDocument(gv);
      char hex[32];
      snprintf(hex, sizeof(hex), "%016zX", std::hash<std::string>{}(DumpJson(doc)));
      cache.hashes[gv] = hex;
      cache.docs[gv] = std::move(doc);
    }
  });
  return cache;
}

}  // namespace

Json VersionInfo() {
  return {{"major", "1"},          {"minor", "32"},           {"gitVersion", "v1.32.0-asb"},
          {"gitCommit", ""},       {"gitTreeState", "clean"}, {"buildDate", "2026-01-01T00:00:00Z"},
          {"goVersion", "go1.23"}, {"compiler", "gc"},        {"platform", "linux/amd64"}};
}

Json ApiVersions(const std::string& advertise_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", advertise_address}}}}};
}

Json ApiGroupList() {
  Json groups = Json::array();
  for (const auto& g : Groups()) groups.push_back(GroupJson(g));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::optional<Json> ApiGroup(const std::string& group) {
  for (const auto& g : Groups()) {
    if (g != group) continue;
    Json j = GroupJson(g);
    j["kind"] = "APIGroup";
    j["apiVersion"] = "v1";
    return j;
  }
  return std::nullopt;
}

std::optional<Json> ApiResourceList(const std::string& group, const std::string& version) {
  Json resources = Json::array();
  for (const auto& r : api::AllResources()) {
    if (r.group != group || r.version != version) continue;
    Json main = {{"name", r.plural},
                 {"singularName", r.singular},
                 {"namespaced", r.namespaced},
                 {"kind", r.kind},
                 {"verbs", kVerbs},
                 {"shortNames", r.short_names}};
    if (r.group.empty() && r.kind != "Namespace" && r.kind != "Event") main["categories"] = {"all"};
    resources.push_back(main);
    if (r.has_status)
      resources.push_back({{"name", r.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", r.namespaced},
                           {"kind", r.kind},
                           {"verbs", {"get", "patch", "update"}}});
    if (r.has_scale)
      resources.push_back({{"name", r.plural + "/scale"},
                           {"singularName", ""},
                           {"namespaced", r.namespaced},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", {"get", "patch", "update"}}});
  }
  if (resources.empty()) return std::nullopt;
  std::string gv = group.empty() ? version : group + "/" + version;
  return Json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", gv},
              {"resources", resources}};
}

Json OpenApiV3Index() {
  Json paths = Json::object();
  for (const auto& [gv, hash] : Cache().hashes)
    paths[gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + hash}};
  return {{"paths", paths}};
}

std::optional<Json> OpenApiV3Document(const std::string& gv_path) {
  auto& docs = Cache().docs;
  auto it = docs.find(gv_path);
  if (it == docs.end()) return std::nullopt;
  return it->second;
}

}  // namespace asb::apiserver
