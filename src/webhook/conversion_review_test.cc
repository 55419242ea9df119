// ConversionReview bodies of every agent-sandbox kind in both directions, as kube-apiserver
// sends them, and the bad reviews a webhook must answer with a Failure instead of crashing.
#include "webhook/conversion_review.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asb::webhook {
namespace {

Json J(std::string_view s) {
  auto j = ParseJson(s);
  EXPECT_TRUE(j.has_value()) << s;
  return j.value_or(Json());
}

constexpr char kPod[] =
    R"({"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}})";

// One object of each kind in each version, with the fields the other version lacks.
std::vector<Json> Objects(std::string_view version) {
  std::string pod = kPod;
  if (version == "v1alpha1")
    return {
        J(R"({"apiVersion":"agents.x-k8s.io/v1alpha1","kind":"Sandbox",
          "metadata":{"name":"s","namespace":"default","uid":"u1","resourceVersion":"7"},
          "spec":{"podTemplate":)" +
          pod + R"(,"replicas":0,"shutdownPolicy":"Delete"},
          "status":{"replicas":0,"conditions":[{"type":"Ready","status":"False"}]}})"),
        J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1alpha1","kind":"SandboxTemplate",
          "metadata":{"name":"t","namespace":"default"},"spec":{"podTemplate":)" +
          pod + R"(}})"),
        J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1alpha1","kind":"SandboxClaim",
          "metadata":{"name":"c","namespace":"default"},
          "spec":{"sandboxTemplateRef":{"name":"t"},"warmpool":"none"},
          "status":{"sandbox":{"Name":"c","name":"c"}}})"),
        J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1alpha1","kind":"SandboxWarmPool",
          "metadata":{"name":"p","namespace":"default"},
          "spec":{"replicas":2,"sandboxTemplateRef":{"name":"t"}}})"),
    };
  return {
      J(R"({"apiVersion":"agents.x-k8s.io/v1beta1","kind":"Sandbox",
        "metadata":{"name":"s","namespace":"default","uid":"u1"},
        "spec":{"podTemplate":)" +
        pod + R"(,"operatingMode":"Suspended"},
        "status":{"conditions":[{"type":"PodScheduled","status":"True"}]}})"),
      J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1beta1","kind":"SandboxTemplate",
        "metadata":{"name":"t","namespace":"default"},
        "spec":{"podTemplate":)" +
        pod + R"(,"volumeClaimTemplatesPolicy":"Allowed"}})"),
      J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1beta1","kind":"SandboxClaim",
        "metadata":{"name":"c","namespace":"default"},
        "spec":{"warmPoolRef":{"name":"shadow-pool-t"},"volumeClaimTemplates":[{"metadata":
          {"name":"v"},"spec":{"resources":{"requests":{"storage":"1Gi"}}}}]}})"),
      J(R"({"apiVersion":"extensions.agents.x-k8s.io/v1beta1","kind":"SandboxWarmPool",
        "metadata":{"name":"p","namespace":"default"},
        "spec":{"replicas":2,"sandboxTemplateRef":{"name":"t"},"readinessGracePeriodSeconds":30}})"),
  };
}

std::string GroupOf(const Json& obj) {
  std::string av = obj["apiVersion"];
  return av.substr(0, av.rfind('/'));
}

Json ReviewOf(const std::string& desired, Json objects, std::string uid = "705ab4f5-6393") {
  return {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "ConversionReview"},
      {"request", {{"uid", uid}, {"desiredAPIVersion", desired}, {"objects", std::move(objects)}}}};
}

void ExpectFailure(const Json& response, std::string_view uid, std::string_view words) {
  EXPECT_EQ(response["apiVersion"], "apiextensions.k8s.io/v1");
  EXPECT_EQ(response["kind"], "ConversionReview");
  EXPECT_EQ(response["response"]["uid"], uid);
  EXPECT_EQ(response["response"]["result"]["status"], "Failure") << response.dump();
  EXPECT_NE(response["response"]["result"]["message"].get<std::string>().find(words),
            std::string::npos)
      << response.dump();
  EXPECT_FALSE(response["response"].contains("convertedObjects"));
}

// Down and back up through the webhook: every object comes back as it was (lossless), the
// intermediate is in the desired version, and only annotations of metadata change (what
// kube-apiserver allows a webhook to change).
TEST(ConversionReview, EveryKindBothDirectionsRoundTrips) {
  for (const char* from : {"v1alpha1", "v1beta1"}) {
    std::string to = std::string(from) == "v1alpha1" ? "v1beta1" : "v1alpha1";
    for (const Json& obj : Objects(from)) {
      std::string group = GroupOf(obj);
      Json there = Convert(ReviewOf(group + "/" + to, Json::array({obj})));
      ASSERT_EQ(there["response"]["result"]["status"], "Success") << there.dump();
      EXPECT_EQ(there["response"]["uid"], "705ab4f5-6393");
      ASSERT_EQ(there["response"]["convertedObjects"].size(), 1u);
      Json converted = there["response"]["convertedObjects"][0];
      EXPECT_EQ(converted["apiVersion"], group + "/" + to);
      EXPECT_EQ(converted["kind"], obj["kind"]);
      Json meta = converted["metadata"], want = obj["metadata"];
      meta.erase("annotations");
      want.erase("annotations");
      EXPECT_EQ(meta, want) << obj["kind"];
      Json back = Convert(ReviewOf(std::string(group) + "/" + from, Json::array({converted})));
      ASSERT_EQ(back["response"]["result"]["status"], "Success") << back.dump();
      Json returned = back["response"]["convertedObjects"][0];
      // A claim that went through v1alpha1 remembers its v1alpha1 spec in an annotation (so a
      // v1alpha1 client reading it again sees what it wrote); nothing else is added.
      if (obj["kind"] == "SandboxClaim" && std::string(from) == "v1beta1") {
        Json& ann = returned["metadata"]["annotations"];
        EXPECT_TRUE(ann.contains("api.agents.x-k8s.io/v1alpha1-sandboxclaim-state"));
        ann.erase("api.agents.x-k8s.io/v1alpha1-sandboxclaim-state");
        if (ann.empty()) returned["metadata"].erase("annotations");
      }
      EXPECT_EQ(returned, obj) << obj["kind"] << " from " << from;
    }
  }
}

TEST(ConversionReview, KeepsOrderAndPassesObjectsAlreadyInTheDesiredVersion) {
  std::vector<Json> alpha = Objects("v1alpha1"), beta = Objects("v1beta1");
  // SandboxTemplate, SandboxClaim, SandboxWarmPool of the extensions group, mixed versions.
  Json objects = Json::array({alpha[1], beta[2], alpha[3], beta[1]});
  Json r = Convert(ReviewOf("extensions.agents.x-k8s.io/v1beta1", objects));
  ASSERT_EQ(r["response"]["result"]["status"], "Success") << r.dump();
  const Json& out = r["response"]["convertedObjects"];
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["metadata"]["name"], "t");
  EXPECT_EQ(out[1], beta[2]);  // already v1beta1: unchanged
  EXPECT_EQ(out[2]["kind"], "SandboxWarmPool");
  EXPECT_EQ(out[3], beta[1]);
  for (const Json& o : out) EXPECT_EQ(o["apiVersion"], "extensions.agents.x-k8s.io/v1beta1");
  // The field mapping itself: replicas 0 <-> operatingMode Suspended.
  Json sb = Convert(ReviewOf("agents.x-k8s.io/v1beta1", Json::array({alpha[0]})));
  EXPECT_EQ(sb["response"]["convertedObjects"][0]["spec"]["operatingMode"], "Suspended");
  Json empty = Convert(ReviewOf("agents.x-k8s.io/v1alpha1", Json::array()));
  EXPECT_EQ(empty["response"]["result"]["status"], "Success");
  EXPECT_EQ(empty["response"]["convertedObjects"], Json::array());
}

TEST(ConversionReview, BadReviewsFailWithAMessage) {
  Json sandbox = Objects("v1alpha1")[0];
  Json pool = Objects("v1alpha1")[3];
  ExpectFailure(Convert(ReviewOf("agents.x-k8s.io/v2", Json::array({sandbox}))), "705ab4f5-6393",
                "not a served version");
  ExpectFailure(Convert(ReviewOf("apps/v1", Json::array({sandbox}))), "705ab4f5-6393",
                "not a served version");
  ExpectFailure(Convert(ReviewOf("agents.x-k8s.io/v1beta1", Json::array({pool}))), "705ab4f5-6393",
                "not the desired agents.x-k8s.io");
  Json pod = J(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}})");
  ExpectFailure(Convert(ReviewOf("agents.x-k8s.io/v1beta1", Json::array({sandbox, pod}))),
                "705ab4f5-6393", "request.objects[1] (x) is a Pod of v1");
  Json unknown_version = sandbox;
  unknown_version["apiVersion"] = "agents.x-k8s.io/v9";
  ExpectFailure(Convert(ReviewOf("agents.x-k8s.io/v1beta1", Json::array({unknown_version}))),
                "705ab4f5-6393", "not an agent-sandbox kind");
  for (const char* bad : {R"("text")", R"({"kind":"Sandbox"})",
                          R"({"apiVersion":"agents.x-k8s.io/v1alpha1","kind":"Sandbox","spec":[]})",
                          R"({"apiVersion":"agents.x-k8s.io/v1alpha1","kind":"Sandbox",
                              "metadata":{"annotations":["x"]}})",
                          R"({"apiVersion":"agents.x-k8s.io/v1alpha1","kind":"Sandbox",
                              "metadata":"m"})"}) {
    ExpectFailure(Convert(ReviewOf("agents.x-k8s.io/v1beta1", Json::array({J(bad)}))),
                  "705ab4f5-6393", "request.objects[0]");
  }
  Json no_objects = ReviewOf("agents.x-k8s.io/v1beta1", nullptr);
  ExpectFailure(Convert(no_objects), "705ab4f5-6393", "request.objects is not a list");
  Json too_many = ReviewOf("agents.x-k8s.io/v1beta1", Json::array());
  for (size_t i = 0; i <= kMaxReviewObjects; ++i)
    too_many["request"]["objects"].push_back(Json::object());
  ExpectFailure(Convert(too_many), "705ab4f5-6393", "at most 10000");

  Json v1beta1_review = ReviewOf("agents.x-k8s.io/v1beta1", Json::array());
  v1beta1_review["apiVersion"] = "apiextensions.k8s.io/v1beta1";
  ExpectFailure(Convert(v1beta1_review), "", "unsupported ConversionReview version");
  Json no_uid = ReviewOf("agents.x-k8s.io/v1beta1", Json::array());
  no_uid["request"].erase("uid");
  ExpectFailure(Convert(no_uid), "", "request.uid is missing");
  ExpectFailure(Convert(J(R"({"kind":"AdmissionReview"})")), "", "not a ConversionReview");
  ExpectFailure(Convert(J("[1,2]")), "", "not a ConversionReview");
}

TEST(ConversionReview, HttpStatusSaysWhetherTheReviewCouldBeRead) {
  http::Request req;
  req.method = "POST";
  req.body = ReviewOf("agents.x-k8s.io/v1beta1", Json::array({Objects("v1alpha1")[0]})).dump();
  http::Response ok = HandleConvert(req);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(J(ok.body)["response"]["result"]["status"], "Success");
  req.body = ReviewOf("agents.x-k8s.io/v7", Json::array()).dump();
  http::Response failed = HandleConvert(req);
  EXPECT_EQ(failed.status, 200);  // a readable review: the Failure is in the body
  ExpectFailure(J(failed.body), "705ab4f5-6393", "not a served version");
  for (std::string body : {std::string("{not json"), std::string(""),
                           std::string(200, '[') /* deeper than the parser allows */}) {
    req.body = body;
    http::Response bad = HandleConvert(req);
    EXPECT_EQ(bad.status, 400);
    ExpectFailure(J(bad.body), "", "not JSON");
  }
}

}  // namespace
}  // namespace asb::webhook
