#include <gtest/gtest.h>

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
        BadCase{
            "sandbox name not a label", SandboxResource,
            R"({"metadata":{"name":"a.b"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a","image":"i"}]}}}})",
            "metadata.name", "FieldValueInvalid"},
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
