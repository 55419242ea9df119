#include <gtest/gtest.h>

#include <functional>

#include "api/patch.h"
#include "api/schema.h"
#include "api/table.h"
#include "api/validation.h"
#include "base/file_util.h"
#include "base/yaml.h"

namespace asb::api {
namespace {

std::string Seed() {
  auto text =
      ReadFile(std::string(ASB_SOURCE_DIR) + "/tests/testdata/sandbox-template-and-pool.yaml");
  EXPECT_TRUE(text.has_value());
  return text.value_or("");
}

Json J(std::string_view s) {
  auto j = ParseJson(s);
  EXPECT_TRUE(j.has_value()) << s;
  return j.value_or(Json());
}

// The v1alpha1 entries (the well-known accessors name the v1beta1 storage version).
const ResourceInfo& AlphaSandbox() { return *FindByKind("agents.x-k8s.io/v1alpha1", "Sandbox"); }
const ResourceInfo& AlphaClaim() {
  return *FindByKind("extensions.agents.x-k8s.io/v1alpha1", "SandboxClaim");
}
const ResourceInfo& AlphaPool() {
  return *FindByKind("extensions.agents.x-k8s.io/v1alpha1", "SandboxWarmPool");
}

const ResourceInfo& For(const Json& obj) {
  const ResourceInfo* r = FindByKind(GetString(obj, "apiVersion"), GetString(obj, "kind"));
  EXPECT_NE(r, nullptr);
  return r ? *r : SandboxResource();
}

TEST(Codec, SeedManifestsRoundTripAndValidate) {
  auto docs = ParseYamlDocuments(Seed());
  ASSERT_TRUE(docs.has_value());
  ASSERT_EQ(docs->size(), 2u);
  for (Json doc : *docs) {
    const ResourceInfo& res = For(doc);
    Json again = ParseJson(DumpJson(doc)).value();
    EXPECT_EQ(doc, again);
    EXPECT_TRUE(FindUnknownFields(KindSchema(res), doc, false).empty()) << doc;
    Json defaulted = doc;
    ApplyDefaults(res, defaulted);
    EXPECT_TRUE(ValidateObject(res, defaulted).empty())
        << AggregateMessage(ValidateObject(res, defaulted));
    // Quoted scalars stay strings, plain ints stay ints.
    if (res.kind == "SandboxTemplate") {
      EXPECT_EQ(doc["spec"]["podTemplate"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
                "250m");
      EXPECT_EQ(defaulted["spec"]["networkPolicyManagement"], "Managed");
    } else {
      EXPECT_EQ(doc["spec"]["replicas"], 2);
    }
  }
}

struct BadCase {
  const char* name;
  const ResourceInfo& (*res)();
  const char* object;
  const char* field;
  const char* reason;
};

class ValidationTable : public ::testing::TestWithParam<BadCase> {};

TEST_P(ValidationTable, ReportsExactField) {
  const BadCase& c = GetParam();
  Json obj = J(c.object);
  ApplyDefaults(c.res(), obj);
  FieldErrors errs = ValidateObject(c.res(), obj);
  ASSERT_FALSE(errs.empty()) << c.name;
  bool found = false;
  for (const auto& e : errs) found |= e.field == c.field && e.Reason() == c.reason;
  EXPECT_TRUE(found) << c.name << ": " << AggregateMessage(errs);
}

INSTANTIATE_TEST_SUITE_P(
    Bad, ValidationTable,
    ::testing::Values(
        BadCase{
            "pool negative", SandboxWarmPoolResource,
            R"({"metadata":{"name":"p"},"spec":{"replicas":-1,"sandboxTemplateRef":{"name":"t"}}})",
            "spec.replicas", "FieldValueInvalid"},
        BadCase{"pool missing replicas", AlphaPool,
                R"({"metadata":{"name":"p"},"spec":{"sandboxTemplateRef":{"name":"t"}}})",
                "spec.replicas", "FieldValueRequired"},
        BadCase{"pool missing ref name", SandboxWarmPoolResource,
                R"({"metadata":{"name":"p"},"spec":{"replicas":1,"sandboxTemplateRef":{}}})",
                "spec.sandboxTemplateRef.name", "FieldValueRequired"},
        BadCase{"claim missing ref", AlphaClaim, R"({"metadata":{"name":"c"},"spec":{}})",
                "spec.sandboxTemplateRef", "FieldValueRequired"},
        BadCase{
            "sandbox replicas 2", AlphaSandbox,
            R"({"metadata":{"name":"s"},"spec":{"replicas":2,"podTemplate":{"spec":{"containers":[{"name":"a","image":"i"}]}}}})",
            "spec.replicas", "FieldValueInvalid"},
        BadCase{"template no containers", SandboxTemplateResource,
                R"({"metadata":{"name":"t"},"spec":{"podTemplate":{"spec":{"containers":[]}}}})",
                "spec.podTemplate.spec.containers", "FieldValueRequired"},
        BadCase{
            "template no image", SandboxTemplateResource,
            R"({"metadata":{"name":"t"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a"}]}}}})",
            "spec.podTemplate.spec.containers[0].image", "FieldValueRequired"},
        BadCase{"pod no name", PodResource,
                R"({"metadata":{"name":"p"},"spec":{"containers":[{"image":"i"}]}})",
                "spec.containers[0].name", "FieldValueRequired"},
        BadCase{
            "bad name", SandboxTemplateResource,
            R"({"metadata":{"name":"Bad_Name"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a","image":"i"}]}}}})",
            "metadata.name", "FieldValueInvalid"},
        BadCase{"namespace name not a label", NamespaceResource, R"({"metadata":{"name":"a.b"}})",
                "metadata.name", "FieldValueInvalid"},
        BadCase{"service name not a DNS-1035 label", ServiceResource,
                R"({"metadata":{"name":"1abc"},"spec":{}})", "metadata.name", "FieldValueInvalid"},
        BadCase{
            "cpu not a quantity", PodResource,
            R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i","resources":{"limits":{"cpu":"lots"}}}]}})",
            "spec.containers[0].resources.limits[cpu]", "FieldValueInvalid"},
        BadCase{
            "template memory not a quantity", SandboxTemplateResource,
            R"({"metadata":{"name":"t"},"spec":{"podTemplate":{"spec":{"initContainers":[{"name":"i","image":"i","resources":{"requests":{"memory":"5Qi"}}}],"containers":[{"name":"a","image":"i"}]}}}})",
            "spec.podTemplate.spec.initContainers[0].resources.requests.memory",
            "FieldValueInvalid"},
        BadCase{
            "sandbox negative quantity", SandboxResource,
            R"({"metadata":{"name":"s"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a","image":"i","resources":{"limits":{"memory":"-1Gi"}}}]}}}})",
            "spec.podTemplate.spec.containers[0].resources.limits.memory", "FieldValueInvalid"},
        BadCase{
            "pod request above its limit", PodResource,
            R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i","resources":{"requests":{"cpu":"2"},"limits":{"cpu":"1"}}}]}})",
            "spec.containers[0].resources.requests[cpu]", "FieldValueInvalid"},
        BadCase{
            "template request above its limit", SandboxTemplateResource,
            R"({"metadata":{"name":"t"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a","image":"i","resources":{"requests":{"memory":"1Gi"},"limits":{"memory":"512Mi"}}}]}}}})",
            "spec.podTemplate.spec.containers[0].resources.requests.memory", "FieldValueInvalid"},
        BadCase{
            "label key", SandboxWarmPoolResource,
            R"({"metadata":{"name":"p","labels":{"a/b/c":"x"}},"spec":{"replicas":1,"sandboxTemplateRef":{"name":"t"}}})",
            "metadata.labels", "FieldValueInvalid"},
        BadCase{
            "enum", SandboxResource,
            R"({"metadata":{"name":"s"},"spec":{"shutdownPolicy":"Never","podTemplate":{"spec":{"containers":[{"name":"a","image":"i"}]}}}})",
            "spec.shutdownPolicy", "FieldValueNotSupported"},
        BadCase{
            "type", SandboxWarmPoolResource,
            R"({"metadata":{"name":"p"},"spec":{"replicas":"two","sandboxTemplateRef":{"name":"t"}}})",
            "spec.replicas", "FieldValueTypeInvalid"},
        BadCase{
            "duplicate container", PodResource,
            R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i"},{"name":"a","image":"i"}]}})",
            "spec.containers[1].name", "FieldValueDuplicate"}));

TEST(Validation, MessagesLookLikeKubernetes) {
  Json obj =
      J(R"({"metadata":{"name":"x"},"spec":{"replicas":-1,"sandboxTemplateRef":{"name":"t"}}})");
  FieldErrors errs = ValidateObject(SandboxWarmPoolResource(), obj);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].ToString(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
}

// Kubernetes' messages, word for word, for the rules a user meets first.
TEST(Validation, NamesQuantitiesAndMetadataAsKubernetes) {
  auto messages = [](const ResourceInfo& res, const std::string& text) {
    Json obj = J(text);
    ApplyDefaults(res, obj);
    std::vector<std::string> out;
    for (const auto& e : ValidateObject(res, obj)) out.push_back(e.ToString());
    return out;
  };
  const std::string containers = R"("containers":[{"name":"a","image":"i"}])";
  // Custom resources are RFC 1123 subdomains (upstream's CRDs add no name rule): 64 characters
  // and dots are fine, 254 characters are not.
  std::string n64(64, 'a');
  EXPECT_TRUE(messages(SandboxResource(), R"({"metadata":{"name":")" + n64 +
                                              R"(.b"},"spec":{"podTemplate":{"spec":{)" +
                                              containers + "}}}}")
                  .empty());
  std::string n254(254, 'a');
  EXPECT_EQ(messages(SandboxWarmPoolResource(),
                     R"({"metadata":{"name":")" + n254 +
                         R"("},"spec":{"replicas":1,"sandboxTemplateRef":{"name":"t"}}})"),
            std::vector<std::string>{"metadata.name: Invalid value: \"" + n254 +
                                     "\": must be no more than 253 characters"});
  // Namespaces are labels: 64 characters get the length message.
  EXPECT_EQ(messages(NamespaceResource(), R"({"metadata":{"name":")" + n64 + R"("}})"),
            std::vector<std::string>{"metadata.name: Invalid value: \"" + n64 +
                                     "\": must be no more than 63 characters"});
  EXPECT_EQ(
      messages(NamespaceResource(), R"({"metadata":{"name":"a.b"}})"),
      std::vector<std::string>{"metadata.name: Invalid value: \"a.b\": must not contain dots"});
  EXPECT_EQ(
      messages(ServiceResource(), R"({"metadata":{"name":"1svc"},"spec":{}})"),
      std::vector<std::string>{
          "metadata.name: Invalid value: \"1svc\": a DNS-1035 label must consist of lower case "
          "alphanumeric characters or '-', start with an alphabetic character, and end with an "
          "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
          "'[a-z]([-a-z0-9]*[a-z0-9])?')"});

  EXPECT_EQ(messages(PodResource(),
                     R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i",)"
                     R"("resources":{"limits":{"cpu":"lots"}}}]}})"),
            std::vector<std::string>{
                "spec.containers[0].resources.limits[cpu]: Invalid value: \"lots\": quantities "
                "must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"});
  EXPECT_EQ(messages(PodResource(),
                     R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i",)"
                     R"("resources":{"requests":{"cpu":"1500m"},"limits":{"cpu":"1"}}}]}})"),
            std::vector<std::string>{
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"1500m\": must be "
                "less than or equal to cpu limit of 1"});
  EXPECT_EQ(
      messages(SandboxTemplateResource(),
               R"({"metadata":{"name":"t"},"spec":{"podTemplate":{"spec":{"containers":[{"name":)"
               R"("a","image":"i","resources":{"requests":{"cpu":"lots","memory":"1Gi"}}}]}}}})"),
      std::vector<std::string>{
          "spec.podTemplate.spec.containers[0].resources.requests.cpu: Invalid value: \"lots\": "
          "spec.podTemplate.spec.containers[0].resources.requests.cpu in body should match "
          "'^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-"
          "9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$'"});

  EXPECT_EQ(
      messages(SandboxWarmPoolResource(),
               R"({"metadata":{"name":"p","labels":{"ok":"-bad"}},"spec":{"replicas":1,)"
               R"("sandboxTemplateRef":{"name":"t"}}})"),
      std::vector<std::string>{
          "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or "
          "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
          "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
          "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"});
  // Annotation keys are checked lower-cased; the total is capped at 256 KiB.
  Json pool =
      J(R"({"metadata":{"name":"p"},"spec":{"replicas":1,"sandboxTemplateRef":{"name":"t"}}})");
  pool["metadata"]["annotations"] = {{"Example.COM/Key", "v"}};
  EXPECT_TRUE(ValidateObject(SandboxWarmPoolResource(), pool).empty());
  pool["metadata"]["annotations"]["big"] = std::string(256 * 1024, 'x');
  FieldErrors errs = ValidateObject(SandboxWarmPoolResource(), pool);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].ToString(),
            "metadata.annotations: Too long: may not be more than 262144 bytes");
  EXPECT_EQ(errs[0].Reason(), "FieldValueTooLong");
}

// Kubernetes lets a Pod update change only images, activeDeadlineSeconds, added tolerations, a
// negative grace period to 1, and (binding) nodeName from empty.
TEST(Validation, PodUpdatesChangeOnlyMutableFields) {
  Json old_pod = J(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i",)"
                   R"("env":[{"name":"X","value":"1"}]}],"tolerations":[{"key":"k"}]}})");
  auto check = [&](const std::function<void(Json&)>& edit) {
    Json next = old_pod;
    edit(next);
    return ValidateUpdate(PodResource(), old_pod, next);
  };
  EXPECT_TRUE(check([](Json& p) {
                p["spec"]["containers"][0]["image"] = "j";
                p["spec"]["activeDeadlineSeconds"] = 30;
                p["spec"]["tolerations"].push_back({{"key", "k2"}});
                p["metadata"]["labels"] = {{"a", "b"}};
              }).empty());
  EXPECT_TRUE(check([](Json& p) { p["spec"]["nodeName"] = "node-1"; }).empty());

  FieldErrors env = check([](Json& p) { p["spec"]["containers"][0]["env"][0]["value"] = "2"; });
  ASSERT_EQ(env.size(), 1u);
  EXPECT_EQ(env[0].field, "spec");
  EXPECT_EQ(env[0].Reason(), "FieldValueForbidden");
  EXPECT_EQ(env[0].Message().rfind("Forbidden: pod updates may not change fields other than "
                                   "`spec.containers[*].image`",
                                   0),
            0u)
      << env[0].Message();
  EXPECT_NE(env[0].Message().find("(changed: spec.containers)"), std::string::npos);

  old_pod["spec"]["nodeName"] = "node-1";
  EXPECT_FALSE(check([](Json& p) { p["spec"]["nodeName"] = "node-2"; }).empty());
  EXPECT_FALSE(check([](Json& p) { p["spec"].erase("nodeName"); }).empty());
  FieldErrors tol = check([](Json& p) { p["spec"]["tolerations"] = Json::array(); });
  ASSERT_FALSE(tol.empty());
  EXPECT_EQ(tol[0].field, "spec.tolerations");
  EXPECT_FALSE(check([](Json& p) { p["spec"]["terminationGracePeriodSeconds"] = 5; }).empty());
  EXPECT_TRUE(ValidateUpdate(SandboxResource(), old_pod, Json::object()).empty());
}

TEST(Validation, DefaultsAreApplied) {
  Json sb = J(
      R"({"metadata":{"name":"s"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a","image":"i"}]}}}})");
  ApplyDefaults(AlphaSandbox(), sb);
  EXPECT_EQ(sb["spec"]["replicas"], 1);
  Json claim = J(R"({"metadata":{"name":"c"},"spec":{"sandboxTemplateRef":{"name":"t"}}})");
  ApplyDefaults(AlphaClaim(), claim);
  EXPECT_EQ(claim["spec"]["warmpool"], "default");
  EXPECT_FALSE(claim["spec"].contains("lifecycle"));  // defaults only inside existing parents
}

TEST(Schema, UnknownFieldsArePathsAndPruned) {
  Json obj = J(
      R"({"metadata":{"name":"s","bogus":1},"spec":{"foo":1,"podTemplate":{"spec":{"containers":[{"name":"a","image":"i","nope":true}]}}}})");
  auto unknown = FindUnknownFields(KindSchema(SandboxResource()), obj, true);
  EXPECT_EQ(unknown, (std::vector<std::string>{"metadata.bogus", "spec.foo",
                                               "spec.podTemplate.spec.containers[0].nope"}));
  EXPECT_FALSE(obj["spec"].contains("foo"));
  EXPECT_TRUE(FindUnknownFields(KindSchema(SandboxResource()), obj, false).empty());
}

TEST(Schema, OpenApiCarriesTypesAndMergeKeys) {
  Json o = ToOpenApi(KindSchema(PodResource()));
  EXPECT_EQ(o["properties"]["spec"]["properties"]["containers"]["x-kubernetes-patch-merge-key"],
            "name");
  EXPECT_EQ(o["properties"]["spec"]["required"], Json::array({"containers"}));
}

TEST(Patch, MergePatchDeletesWithNull) {
  auto out = ApplyMergePatch(J(R"({"a":1,"b":{"c":2,"d":3}})"), J(R"({"b":{"c":null},"e":4})"));
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, J(R"({"a":1,"b":{"d":3},"e":4})"));
  EXPECT_FALSE(ApplyMergePatch(J("{}"), J("[1]")));
}

TEST(Patch, StrategicMergesContainersByNameAndPortsByContainerPort) {
  const Schema& pod = KindSchema(PodResource());
  Json orig = J(
      R"({"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80},{"containerPort":81}]},{"name":"b","image":"y"}]}})");
  auto out = ApplyStrategicMergePatch(
      orig,
      J(R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],"containers":[{"name":"a","image":"x2","ports":[{"containerPort":81,"name":"web"}]},{"name":"c","image":"z"}]}})"),
      &pod);
  ASSERT_TRUE(out) << out.error().message;
  const Json& cs = (*out)["spec"]["containers"];
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0]["name"], "b");
  EXPECT_EQ(cs[1]["name"], "a");
  EXPECT_EQ(cs[1]["image"], "x2");
  EXPECT_EQ(cs[1]["ports"], J(R"([{"containerPort":80},{"containerPort":81,"name":"web"}])"));
  EXPECT_EQ(cs[2]["name"], "c");
}

TEST(Patch, StrategicDirectives) {
  const Schema& pod = KindSchema(PodResource());
  Json orig = J(
      R"({"metadata":{"labels":{"a":"1","b":"2"},"finalizers":["x"]},"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}})");
  auto del = ApplyStrategicMergePatch(
      orig, J(R"({"spec":{"containers":[{"name":"a","$patch":"delete"}]}})"), &pod);
  ASSERT_TRUE(del);
  EXPECT_EQ((*del)["spec"]["containers"], J(R"([{"name":"b","image":"y"}])"));
  auto rep = ApplyStrategicMergePatch(
      orig, J(R"({"metadata":{"labels":{"$patch":"replace","c":"3"}}})"), &pod);
  ASSERT_TRUE(rep);
  EXPECT_EQ((*rep)["metadata"]["labels"], J(R"({"c":"3"})"));
  auto fin = ApplyStrategicMergePatch(orig, J(R"({"metadata":{"finalizers":["y"]}})"), &pod);
  ASSERT_TRUE(fin);
  EXPECT_EQ((*fin)["metadata"]["finalizers"], J(R"(["x","y"])"));
  auto rm = ApplyStrategicMergePatch(
      orig, J(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}})"), &pod);
  ASSERT_TRUE(rm);
  EXPECT_EQ((*rm)["metadata"]["finalizers"], Json::array());
  EXPECT_FALSE(ApplyStrategicMergePatch(orig, J(R"({"$bogus":1})"), &pod));
}

TEST(Patch, JsonPatch) {
  auto out = ApplyJsonPatch(J(R"({"spec":{"replicas":1}})"),
                            J(R"([{"op":"replace","path":"/spec/replicas","value":3}])"));
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)["spec"]["replicas"], 3);
  EXPECT_FALSE(ApplyJsonPatch(J("{}"), J(R"([{"op":"test","path":"/x","value":1}])")));
}

// JSON patches can't grow an object without bound: copies are capped in total, and moves or
// adds that would nest past the decoder's depth limit are refused before they are applied.
TEST(Patch, JsonPatchIsBounded) {
  Json doubling = J(R"([{"op":"add","path":"/x","value":[1,2,3,4]}])");
  for (int i = 0; i < 30; ++i)
    doubling.push_back({{"op", "copy"}, {"from", ""}, {"path", "/k" + std::to_string(i)}});
  auto out = ApplyJsonPatch(J("{}"), doubling);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Code::kResourceExhausted);

  std::string deep60 = std::string(60, '[') + std::string(60, ']');
  std::string path59 = "/a";
  for (int i = 0; i < 58; ++i) path59 += "/0";
  Json stacking = J(R"([{"op":"add","path":"/a","value":)" + deep60 +
                    R"(},{"op":"add","path":"/b","value":)" + deep60 + "}]");
  stacking.push_back({{"op", "move"}, {"from", "/b"}, {"path", path59 + "/0"}});
  out = ApplyJsonPatch(J("{}"), stacking);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Code::kInvalidArgument);
  EXPECT_NE(out.error().message.find("deeper than 100"), std::string::npos);

  Json many = Json::array();
  for (int i = 0; i < 10001; ++i) many.push_back({{"op", "test"}, {"path", ""}, {"value", 1}});
  out = ApplyJsonPatch(J("{}"), many);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Code::kResourceExhausted);
}

TEST(Table, ColumnsAndHumanDuration) {
  EXPECT_EQ(HumanDuration(std::chrono::seconds(5)), "5s");
  EXPECT_EQ(HumanDuration(std::chrono::seconds(150)), "2m30s");
  EXPECT_EQ(HumanDuration(std::chrono::hours(50)), "2d2h");
  Json pool = J(R"({"metadata":{"name":"p"},"spec":{"replicas":3},"status":{"readyReplicas":1}})");
  Json cells = TableCells(SandboxWarmPoolResource(), pool, SystemTime{});
  EXPECT_EQ(cells[1], 1);
  EXPECT_EQ(cells[2], 3);
}

}  // namespace
}  // namespace asb::api
