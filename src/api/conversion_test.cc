// Round trips between v1alpha1 and v1beta1 for every agent-sandbox kind: every field of each
// version survives a trip through the other (api/conversion.h).
#include "api/conversion.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "api/validation.h"
#include "api/views.h"

namespace asb::api {
namespace {

Json J(std::string_view s) {
  auto j = ParseJson(s);
  EXPECT_TRUE(j.has_value()) << s;
  return j.value_or(Json());
}

const ResourceInfo& Res(const Json& obj) {
  return *FindByKind(GetString(obj, "apiVersion"), GetString(obj, "kind"));
}

// obj -> other version -> back; also checks the intermediate validates in its version.
Json RoundTrip(const Json& obj, std::string_view other, const ConvertContext& ctx = {}) {
  std::string back(VersionOf(obj));
  Json there = ConvertToVersion(obj, other, ctx);
  EXPECT_EQ(VersionOf(there), other);
  Json defaulted = there;
  ApplyDefaults(Res(there), defaulted);
  FieldErrors errs = ValidateObject(Res(there), defaulted);
  EXPECT_TRUE(errs.empty()) << AggregateMessage(errs) << "\n" << DumpJson(there);
  return ConvertToVersion(there, back, ctx);
}

constexpr char kPod[] = R"("podTemplate":{"metadata":{"labels":{"a":"b"}},
    "spec":{"containers":[{"name":"c","image":"i"}]}})";

TEST(Conversion, SandboxEveryFieldBothWays) {
  Json alpha = J(
      std::string(R"({"apiVersion":"agents.x-k8s.io/v1alpha1","kind":"Sandbox",
    "metadata":{"name":"s","namespace":"default","annotations":{"x":"y"}},
    "spec":{)") +
      kPod +
      R"(,"volumeClaimTemplates":[{"metadata":{"name":"v"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}],
      "shutdownTime":"2030-01-01T00:00:00Z","shutdownPolicy":"Delete","replicas":0,"service":false},
    "status":{"serviceFQDN":"s.default.svc","service":"s","selector":"k=v","podIPs":["10.0.0.1"],
      "replicas":0,"conditions":[{"type":"Ready","status":"False","reason":"SandboxSuspended"}]}})");
  Json beta = ConvertToVersion(alpha, "v1beta1");
  EXPECT_EQ(beta["apiVersion"], "agents.x-k8s.io/v1beta1");
  EXPECT_EQ(beta["spec"]["operatingMode"], "Suspended");
  EXPECT_FALSE(beta["spec"].contains("replicas"));
  EXPECT_FALSE(beta["status"].contains("replicas"));
  EXPECT_EQ(RoundTrip(alpha, "v1beta1"), alpha);

  Json b = J(std::string(R"({"apiVersion":"agents.x-k8s.io/v1beta1","kind":"Sandbox",
    "metadata":{"name":"s","namespace":"default"},
    "spec":{)") +
             kPod + R"(,"operatingMode":"Running","shutdownPolicy":"Retain","service":true},
    "status":{"nodeName":"n1","selector":"k=v","observedGeneration":3,"conditions":[
      {"type":"Ready","status":"True","reason":"DependenciesReady"},
      {"type":"PodScheduled","status":"True","reason":"PodScheduled"}]}})");
  Json a = ConvertToVersion(b, "v1alpha1");
  EXPECT_EQ(a["spec"]["replicas"], 1);
  EXPECT_EQ(a["status"]["replicas"], 1);  // derived: there is a pod
  EXPECT_EQ(RoundTrip(b, "v1alpha1"), b);
}

TEST(Conversion, TemplateKeepsVolumeClaimTemplatesPolicy) {
  Json b = J(std::string(R"({"apiVersion":"extensions.agents.x-k8s.io/v1beta1",
    "kind":"SandboxTemplate","metadata":{"name":"t","namespace":"default"},
    "spec":{)") +
             kPod + R"(,"networkPolicy":{"ingress":[]},"networkPolicyManagement":"Unmanaged",
      "envVarsInjectionPolicy":"Overrides","volumeClaimTemplatesPolicy":"Allowed","service":true}})");
  Json a = ConvertToVersion(b, "v1alpha1");
  EXPECT_FALSE(a["spec"].contains("volumeClaimTemplatesPolicy"));
  ASSERT_TRUE(a["metadata"]["annotations"].is_object());
  EXPECT_EQ(a["metadata"]["annotations"][BetaStateAnnotation("SandboxTemplate")],
            R"({"spec":{"volumeClaimTemplatesPolicy":"Allowed"}})");
  EXPECT_EQ(RoundTrip(b, "v1alpha1"), b);
  // A v1alpha1 write that never saw the field keeps the stored one.
  a["metadata"].erase("annotations");
  ConvertContext ctx;
  ctx.current = &b;
  EXPECT_EQ(ConvertToVersion(a, "v1beta1", ctx)["spec"]["volumeClaimTemplatesPolicy"], "Allowed");

  Json alpha = ConvertToVersion(b, "v1alpha1");
  EXPECT_EQ(RoundTrip(alpha, "v1beta1"), alpha);
}

TEST(Conversion, ClaimWrittenInAlphaKeepsTemplateAndPolicy) {
  for (const char* warmpool : {"default", "none", "my-pool"}) {
    Json alpha = J(std::string(R"({"apiVersion":"extensions.agents.x-k8s.io/v1alpha1",
      "kind":"SandboxClaim","metadata":{"name":"c","namespace":"default"},
      "spec":{"sandboxTemplateRef":{"name":"tmpl"},"warmpool":")") +
                   warmpool + R"(",
        "lifecycle":{"shutdownTime":"2030-01-01T00:00:00Z","ttlSecondsAfterFinished":5,
          "shutdownPolicy":"Delete"},
        "additionalPodMetadata":{"labels":{"sandbox.users.io/a":"b"},"annotations":{"n":"m"}},
        "env":[{"name":"E","value":"v","containerName":"c"}]},
      "status":{"sandbox":{"Name":"c","name":"c","podIPs":["10.0.0.2"]},
        "conditions":[{"type":"Ready","status":"True","reason":"DependenciesReady"}]}})");
    Json beta = ConvertToVersion(alpha, "v1beta1");
    std::string want_pool = std::string(warmpool) == "my-pool" ? "my-pool" : "shadow-pool-tmpl";
    EXPECT_EQ(beta["spec"]["warmPoolRef"]["name"], want_pool);
    EXPECT_FALSE(beta["spec"].contains("sandboxTemplateRef"));
    EXPECT_FALSE(beta["status"]["sandbox"].contains("Name"));
    ClaimSource src = ClaimSourceOf(beta);
    EXPECT_EQ(src.template_name, "tmpl");
    EXPECT_EQ(src.warm, std::string(warmpool) == "none"      ? ClaimSource::Warm::kNone
                        : std::string(warmpool) == "default" ? ClaimSource::Warm::kAnyPoolOfTemplate
                                                             : ClaimSource::Warm::kNamedPool);
    EXPECT_EQ(RoundTrip(alpha, "v1beta1"), alpha) << warmpool;
  }
}

TEST(Conversion, ClaimWrittenInBetaReadsInAlphaWithThePoolsTemplate) {
  Json b = J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1beta1","kind":"SandboxClaim",
    "metadata":{"name":"c","namespace":"default"},
    "spec":{"warmPoolRef":{"name":"pool"},"lifecycle":{"shutdownPolicy":"Retain"},
      "volumeClaimTemplates":[{"metadata":{"name":"v"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]},
    "status":{"sandbox":{"name":"c"}}})");
  ConvertContext ctx;
  ctx.pool_template = [](const std::string& ns, const std::string& pool) {
    return ns == "default" && pool == "pool" ? std::string("tmpl") : std::string();
  };
  Json a = ConvertToVersion(b, "v1alpha1", ctx);
  EXPECT_EQ(a["spec"]["sandboxTemplateRef"]["name"], "tmpl");
  EXPECT_EQ(a["spec"]["warmpool"], "pool");
  EXPECT_EQ(a["status"]["sandbox"]["Name"], "c");  // the v0.1.0 key
  Json back = RoundTrip(b, "v1alpha1", ctx);
  EXPECT_EQ(back["spec"]["warmPoolRef"], b["spec"]["warmPoolRef"]);
  EXPECT_EQ(back["spec"]["volumeClaimTemplates"], b["spec"]["volumeClaimTemplates"]);
  EXPECT_EQ(ClaimSourceOf(back).pool, "pool");
  // Re-pointed at another pool in v1beta1: v1alpha1 follows the pool.
  Json moved = ConvertToVersion(a, "v1beta1");
  moved["spec"]["warmPoolRef"]["name"] = "other";
  EXPECT_EQ(ConvertToVersion(moved, "v1alpha1", ctx)["spec"]["warmpool"], "other");
  EXPECT_EQ(ClaimSourceOf(moved).pool, "other");
  EXPECT_EQ(ClaimSourceOf(moved).template_name, "");  // from the pool
}

TEST(Conversion, WarmPoolBothWays) {
  Json b = J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1beta1","kind":"SandboxWarmPool",
    "metadata":{"name":"p","namespace":"default"},
    "spec":{"replicas":3,"sandboxTemplateRef":{"name":"t"},"updateStrategy":{"type":"Recreate"},
      "readinessGracePeriodSeconds":45},
    "status":{"replicas":3,"readyReplicas":2,"selector":"k=v","observedGeneration":2}})");
  EXPECT_EQ(RoundTrip(b, "v1alpha1"), b);
  Json alpha = ConvertToVersion(b, "v1alpha1");
  EXPECT_FALSE(alpha["spec"].contains("readinessGracePeriodSeconds"));
  EXPECT_EQ(RoundTrip(alpha, "v1beta1"), alpha);
  Json no_replicas = b;
  no_replicas["spec"].erase("replicas");
  EXPECT_EQ(ConvertToVersion(no_replicas, "v1alpha1")["spec"]["replicas"], 1);
  EXPECT_EQ(WarmPoolReplicas(no_replicas), 1);
}

TEST(Conversion, OtherKindsAndSameVersionUntouched) {
  Json pod = J(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}})");
  EXPECT_EQ(ConvertToVersion(pod, "v1beta1"), pod);
  Json b = J(R"({"apiVersion":"agents.x-k8s.io/v1beta1","kind":"Sandbox","spec":{}})");
  EXPECT_EQ(ConvertToVersion(b, "v1beta1"), b);
}

TEST(Schema, V1beta1Shapes) {
  const ResourceInfo* claim = FindByKind("extensions.agents.x-k8s.io/v1beta1", "SandboxClaim");
  ASSERT_NE(claim, nullptr);
  Json c = J(R"({"metadata":{"name":"c"},"spec":{}})");
  FieldErrors errs = ValidateObject(*claim, c);
  bool found = false;
  for (const auto& e : errs) found |= e.field == "spec.warmPoolRef";
  EXPECT_TRUE(found) << AggregateMessage(errs);
  Json pool = J(R"({"metadata":{"name":"p"},"spec":{"sandboxTemplateRef":{"name":"t"}}})");
  ApplyDefaults(SandboxWarmPoolResource(), pool);
  EXPECT_EQ(pool["spec"]["replicas"], 1);
  EXPECT_TRUE(ValidateObject(SandboxWarmPoolResource(), pool).empty());
  pool["spec"]["readinessGracePeriodSeconds"] = 10;
  EXPECT_FALSE(ValidateObject(SandboxWarmPoolResource(), pool).empty());
  Json sb = J(std::string(R"({"metadata":{"name":"s"},"spec":{)") + kPod + "}}");
  ApplyDefaults(SandboxResource(), sb);
  EXPECT_EQ(sb["spec"]["operatingMode"], "Running");
  EXPECT_FALSE(SandboxSuspended(sb));
  EXPECT_FALSE(SandboxResource().has_scale);
  EXPECT_EQ(&StorageResource(*FindByKind("agents.x-k8s.io/v1alpha1", "Sandbox")),
            &SandboxResource());
}

}  // namespace
}  // namespace asb::api
