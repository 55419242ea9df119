// The generated CRDs are what kube-apiserver accepts: structural schemas (every node typed, only
// JSONSchemaProps keys), both versions with v1beta1 stored, the webhook conversion, subresources
// and printer columns matching the tables `kubectl get` shows from embedded asbd.
#include "api/crd.h"

#include <gtest/gtest.h>

#include <set>

#include "api/table.h"
#include "base/yaml.h"

namespace asb::api {
namespace {

// The JSONSchemaProps fields a structural schema may use (apiextensions.k8s.io/v1; $ref,
// definitions, dependencies, patternProperties, additionalItems are not structural, and the
// logical junctors allOf/anyOf/oneOf/not are not used by our generator).
const std::set<std::string>& AllowedKeys() {
  static const std::set<std::string> kKeys = {"description",
                                              "type",
                                              "format",
                                              "title",
                                              "default",
                                              "maximum",
                                              "minimum",
                                              "exclusiveMaximum",
                                              "exclusiveMinimum",
                                              "maxLength",
                                              "minLength",
                                              "pattern",
                                              "maxItems",
                                              "minItems",
                                              "multipleOf",
                                              "enum",
                                              "maxProperties",
                                              "minProperties",
                                              "required",
                                              "items",
                                              "properties",
                                              "additionalProperties",
                                              "nullable",
                                              "example",
                                              "x-kubernetes-preserve-unknown-fields",
                                              "x-kubernetes-int-or-string",
                                              "x-kubernetes-embedded-resource",
                                              "x-kubernetes-list-type",
                                              "x-kubernetes-list-map-keys",
                                              "x-kubernetes-map-type",
                                              "x-kubernetes-validations"};
  return kKeys;
}

// Appends a message per violation of the structural-schema rules to `errors`; records the paths
// whose unknown fields are kept (x-kubernetes-preserve-unknown-fields) in `preserved`.
void CheckStructural(const Json& node, const std::string& path, std::vector<std::string>* errors,
                     std::vector<std::string>* preserved) {
  if (!node.is_object()) {
    errors->push_back(path + ": schema is not an object");
    return;
  }
  for (const auto& [k, v] : node.items())
    if (!AllowedKeys().count(k)) errors->push_back(path + ": unknown key " + k);
  bool int_or_string = node.value("x-kubernetes-int-or-string", false);
  bool preserve = node.value("x-kubernetes-preserve-unknown-fields", false);
  if (preserve) preserved->push_back(path);
  std::string type = node.value("type", "");
  static const std::set<std::string> kTypes = {"object",  "array",  "string",
                                               "integer", "number", "boolean"};
  if (type.empty() && !int_or_string && !preserve) errors->push_back(path + ": no type");
  if (!type.empty() && !kTypes.count(type)) errors->push_back(path + ": bad type " + type);
  if (int_or_string && !type.empty()) errors->push_back(path + ": int-or-string with a type");
  if (preserve && !type.empty() && type != "object")
    errors->push_back(path + ": preserve-unknown-fields on a " + type);
  bool has_props = node.contains("properties"),
       has_additional = node.contains("additionalProperties");
  if ((has_props || has_additional) && type != "object")
    errors->push_back(path + ": properties on a non-object");
  if (has_props && has_additional)
    errors->push_back(path + ": properties and additionalProperties");
  if (type == "array" && !node.contains("items")) errors->push_back(path + ": array without items");
  if (node.contains("items") && type != "array") errors->push_back(path + ": items on a non-array");
  if (node.contains("required")) {
    for (const auto& r : node["required"])
      if (!has_props || !node["properties"].contains(r.get<std::string>()))
        errors->push_back(path + ": required " + r.dump() + " is not a property");
  }
  if (has_props)
    for (const auto& [name, child] : node["properties"].items())
      CheckStructural(child, path + "." + name, errors, preserved);
  if (has_additional) CheckStructural(node["additionalProperties"], path + ".*", errors, preserved);
  if (node.contains("items")) CheckStructural(node["items"], path + "[]", errors, preserved);
}

TEST(Crd, EveryVersionSchemaIsStructural) {
  std::vector<Json> crds = AgentSandboxCrds();
  ASSERT_EQ(crds.size(), 4u);
  for (const Json& crd : crds) {
    for (const Json& v : crd["spec"]["versions"]) {
      std::string where =
          crd["spec"]["names"]["kind"].get<std::string>() + "/" + v["name"].get<std::string>();
      const Json& schema = v["schema"]["openAPIV3Schema"];
      std::vector<std::string> errors, preserved;
      CheckStructural(schema, "", &errors, &preserved);
      EXPECT_TRUE(errors.empty()) << where << ":\n" << DumpYaml(Json(errors));
      EXPECT_EQ(schema["type"], "object") << where;
      // kube-apiserver owns ObjectMeta: a CRD may not describe it.
      EXPECT_EQ(schema["properties"]["metadata"], Json({{"type", "object"}})) << where;
      EXPECT_EQ(schema["properties"]["apiVersion"]["type"], "string") << where;
      EXPECT_EQ(schema["properties"]["kind"]["type"], "string") << where;
      EXPECT_TRUE(schema["properties"].contains("spec")) << where;
      // Unknown fields are kept only where api/schema.h describes a structure loosely: the
      // core/v1 pod and claim specs below the container list, networking/v1 NetworkPolicy rules,
      // the legacy condition timestamps some clients send, and v1alpha1 template status (upstream
      // defines none). Every other field of the agent-sandbox kinds is pruned, as upstream's
      // CRDs (full core schemas, no preserved fields at all) prune it.
      for (const std::string& p : preserved) {
        bool loose = p.find(".podTemplate.") != std::string::npos ||
                     p.find(".volumeClaimTemplates[]") != std::string::npos ||
                     p == ".spec.networkPolicy.ingress[]" || p == ".spec.networkPolicy.egress[]" ||
                     p == ".status.conditions[].lastProbeTime" ||
                     p == ".status.conditions[].lastUpdateTime" ||
                     (where == "SandboxTemplate/v1alpha1" && p == ".status");
        EXPECT_TRUE(loose) << where << ": unknown fields kept at " << p;
      }
    }
  }
}

TEST(Crd, ServesBothVersionsStoresV1beta1AndConvertsByWebhook) {
  CrdOptions opts;
  opts.ca_bundle_base64 = "Q0E=";
  for (const Json& crd : AgentSandboxCrds(opts)) {
    std::string kind = crd["spec"]["names"]["kind"];
    EXPECT_EQ(crd["apiVersion"], "apiextensions.k8s.io/v1");
    EXPECT_EQ(crd["kind"], "CustomResourceDefinition");
    const ResourceInfo* res =
        FindByKind(crd["spec"]["group"].get<std::string>() + "/v1beta1", kind);
    ASSERT_NE(res, nullptr) << kind;
    EXPECT_EQ(crd["metadata"]["name"], res->plural + "." + res->group);
    EXPECT_EQ(crd["spec"]["names"]["plural"], res->plural);
    EXPECT_EQ(crd["spec"]["names"]["listKind"], kind + "List");
    EXPECT_EQ(crd["spec"]["scope"], "Namespaced");
    const Json& versions = crd["spec"]["versions"];
    ASSERT_EQ(versions.size(), 2u) << kind;
    EXPECT_EQ(versions[0]["name"], "v1beta1");
    EXPECT_EQ(versions[0]["storage"], true);
    EXPECT_FALSE(versions[0].contains("deprecated"));
    EXPECT_EQ(versions[1]["name"], "v1alpha1");
    EXPECT_EQ(versions[1]["storage"], false);
    EXPECT_EQ(versions[1]["deprecated"], true);
    for (const Json& v : versions) {
      EXPECT_EQ(v["served"], true);
      const ResourceInfo* served =
          FindByKind(res->group + "/" + v["name"].get<std::string>(), kind);
      ASSERT_NE(served, nullptr);
      EXPECT_EQ(v.contains("subresources") && v["subresources"].contains("status"),
                served->has_status)
          << kind << " " << v["name"];
      EXPECT_EQ(v.contains("subresources") && v["subresources"].contains("scale"),
                served->has_scale)
          << kind << " " << v["name"];
    }
    const Json& conv = crd["spec"]["conversion"];
    EXPECT_EQ(conv["strategy"], "Webhook");
    EXPECT_EQ(conv["webhook"]["conversionReviewVersions"], Json::array({"v1"}));
    const Json& cc = conv["webhook"]["clientConfig"];
    EXPECT_EQ(cc["service"]["name"], "agent-sandbox-webhook-service");
    EXPECT_EQ(cc["service"]["namespace"], "agent-sandbox-system");
    EXPECT_EQ(cc["service"]["path"], "/convert");
    EXPECT_EQ(cc["caBundle"], "Q0E=");
  }
  EXPECT_FALSE(
      AgentSandboxCrds()[0]["spec"]["conversion"]["webhook"]["clientConfig"].contains("caBundle"));
  EXPECT_FALSE(CustomResourceDefinitionFor("Pod"));
}

// Every column `kubectl get` shows from embedded asbd (api/table.h) is a printer column with a
// JSONPath, so the table on a real cluster has the same columns in the same order.
TEST(Crd, PrinterColumnsMatchTheTables) {
  for (const auto& res : AllResources()) {
    if (!IsAgentsKind(res)) continue;
    Json cols = CrdPrinterColumns(res);
    const std::vector<TableColumn>& table = TableColumns(res);
    if (table.size() <= 2) {
      EXPECT_TRUE(cols.empty()) << res.kind;
      continue;
    }
    ASSERT_EQ(cols.size(), table.size() - 1) << res.kind << " " << res.version;
    for (size_t i = 0; i < cols.size(); ++i) {
      EXPECT_EQ(cols[i]["name"], table[i + 1].name) << res.kind;
      EXPECT_EQ(cols[i]["jsonPath"].get<std::string>().front(), '.') << res.kind;
    }
    EXPECT_EQ(cols.back()["type"], "date");
  }
  Json pool =
      CrdPrinterColumns(*FindByKind("extensions.agents.x-k8s.io/v1beta1", "SandboxWarmPool"));
  EXPECT_EQ(pool[0]["jsonPath"], ".status.readyReplicas");
  EXPECT_EQ(pool[0]["type"], "integer");
}

// The YAML `asbd crds` prints reads back as the same objects.
TEST(Crd, YamlRoundTrips) {
  for (const Json& crd : AgentSandboxCrds()) {
    auto back = ParseYaml(DumpYaml(crd));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, crd);
  }
}

}  // namespace
}  // namespace asb::api
