// Handler-level tests: in-memory http::Requests against a real SqliteStore in a temp dir.
#include "apiserver/api_server.h"

#include <gtest/gtest.h>

#include <set>

#include "apiserver/discovery.h"
#include "apiserver/k8s_status.h"
#include "base/strings.h"
#include "http/client.h"
#include "http/server.h"
#include "store/sqlite_store.h"
#include "tests/testing/test_util.h"

namespace asb::apiserver {
namespace {

class CollectingStream : public http::ResponseStream {
 public:
  bool Write(std::string_view data) override {
    body += data;
    return true;
  }
  bool ClientGone() override { return false; }
  std::vector<Json> Events() const {
    std::vector<Json> out;
    for (const auto& line : Split(body, '\n'))
      if (!line.empty()) out.push_back(ParseJson(line).value());
    return out;
  }
  std::string body;
};

constexpr char kPool[] =
    R"({"apiVersion":"extensions.agents.x-k8s.io/v1alpha1","kind":"SandboxWarmPool",
        "metadata":{"name":"pool","labels":{"tier":"a"}},
        "spec":{"replicas":2,"sandboxTemplateRef":{"name":"t"}}})";
constexpr char kPools[] =
    "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxwarmpools";

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::ObjectStoreOptions opts;
    opts.watch_log_capacity = 8;
    auto s = store::SqliteStore::Open(dir_.path(), opts);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    ApiServerOptions o;
    o.token = "secret";
    o.watch_poll = std::chrono::milliseconds(20);
    api_ = std::make_unique<ApiServer>(*store_, o);
  }

  http::Response Do(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& type = "application/json",
                    bool auth = true) {
    http::Request req;
    req.method = method;
    req.target = target;
    EXPECT_TRUE(req.ParseTarget());
    req.body = body;
    if (!body.empty()) req.headers.Set("Content-Type", type);
    if (auth) req.headers.Set("Authorization", "Bearer secret");
    return api_->Handle(req);
  }
  Json Body(const http::Response& r) { return ParseJson(r.body).value_or(Json()); }
  std::vector<Json> Watch(const std::string& target) {
    http::Response r = Do("GET", target);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.stream);
    CollectingStream out;
    if (r.stream) r.stream(out);
    return out.Events();
  }

  asb::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ApiServer> api_;
};

TEST_F(ApiServerTest, RejectsRequestsWithoutToken) {
  http::Response r = Do("GET", "/api/v1/namespaces", "", "", false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Body(r)["reason"], "Unauthorized");
  EXPECT_EQ(Do("GET", "/healthz", "", "", false).status, 200);
}

// Counter value of one apiserver_request_total series in a /metrics body, or -1.
double RequestCount(const std::string& body, const std::string& labels) {
  std::string key = "apiserver_request_total{" + labels + "} ";
  size_t at = body.find(key);
  return at == std::string::npos ? -1 : std::stod(body.substr(at + key.size()));
}

TEST_F(ApiServerTest, MetricsNeedTheTokenAndCountRequestsByVerbResourceAndCode) {
  EXPECT_EQ(Do("GET", "/metrics", "", "", /*auth=*/false).status, 401);
  http::Response before = Do("GET", "/metrics");
  ASSERT_EQ(before.status, 200);
  EXPECT_EQ(before.headers.GetOr("Content-Type", ""), "text/plain; version=0.0.4; charset=utf-8");
  const std::string create = R"(verb="POST",resource="sandboxwarmpools",subresource="",code="201")";
  const std::string list = R"(verb="LIST",resource="sandboxwarmpools",subresource="",code="200")";
  const std::string missing = R"(verb="GET",resource="sandboxwarmpools",subresource="",code="404")";
  double created0 = std::max(0.0, RequestCount(before.body, create));
  double listed0 = std::max(0.0, RequestCount(before.body, list));
  double missing0 = std::max(0.0, RequestCount(before.body, missing));

  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  ASSERT_EQ(Do("GET", kPools).status, 200);
  ASSERT_EQ(Do("GET", std::string(kPools) + "/nope").status, 404);
  ASSERT_EQ(Do("GET", std::string(kPools) + "/nope").status, 404);

  http::Response after = Do("GET", "/metrics");
  EXPECT_EQ(RequestCount(after.body, create), created0 + 1);
  EXPECT_EQ(RequestCount(after.body, list), listed0 + 1);
  EXPECT_EQ(RequestCount(after.body, missing), missing0 + 2);
  EXPECT_NE(after.body.find("# TYPE apiserver_request_duration_seconds histogram"),
            std::string::npos);
  EXPECT_NE(after.body.find(R"(apiserver_request_duration_seconds_count{verb="POST",)"
                            R"(resource="sandboxwarmpools",subresource=""})"),
            std::string::npos);
  EXPECT_EQ(Do("POST", "/metrics", "{}").status, 405);
}

TEST_F(ApiServerTest, DiscoveryListsSubresources) {
  Json list = Body(Do("GET", "/apis/extensions.agents.x-k8s.io/v1alpha1"));
  std::set<std::string> names;
  for (const auto& r : list["resources"]) names.insert(r["name"]);
  EXPECT_TRUE(names.count("sandboxwarmpools/scale"));
  EXPECT_TRUE(names.count("sandboxclaims/status"));
  EXPECT_EQ(Do("GET", "/openapi/v2").headers.GetOr("Content-Type", ""), "application/octet-stream");
  Json index = Body(Do("GET", "/openapi/v3"));
  EXPECT_TRUE(index["paths"].contains("apis/agents.x-k8s.io/v1alpha1"));
  EXPECT_EQ(Do("GET", "/apis/nope.io/v1").status, 404);
  EXPECT_EQ(Do("GET", "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/nopes").status,
            404);
}

// kubectl delete --dry-run=server puts dryRun in the DeleteOptions body, not the query: such a
// delete (one object or a whole collection) must leave everything in place.
TEST_F(ApiServerTest, DryRunDeleteInTheBodyDeletesNothing) {
  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  std::string second = kPool;
  second.replace(second.find("\"pool\""), 6, "\"pool2\"");
  ASSERT_EQ(Do("POST", kPools, second).status, 201);
  const std::string dry =
      R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background",)"
      R"("dryRun":["All"]})";

  http::Response r = Do("DELETE", std::string(kPools) + "/pool", dry);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["name"], "pool");
  r = Do("DELETE", kPools, dry);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["items"].size(), 2u);
  r = Do("DELETE", std::string(kPools) + "/pool?dryRun=All");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(Do("GET", kPools))["items"].size(), 2u);

  // A value Kubernetes does not know is refused, not taken as a real delete.
  r = Do("DELETE", std::string(kPools) + "/pool", R"({"dryRun":["Some"]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("dryRun"), std::string::npos);
  EXPECT_EQ(Do("DELETE", std::string(kPools) + "/pool?dryRun=true").status, 400);
  EXPECT_EQ(Do("POST", std::string(kPools) + "?dryRun=yes", kPool).status, 400);
  EXPECT_EQ(Body(Do("GET", kPools))["items"].size(), 2u);

  // Without dryRun the same delete does delete.
  EXPECT_EQ(Do("DELETE", std::string(kPools) + "/pool").status, 200);
  EXPECT_EQ(Body(Do("GET", kPools))["items"].size(), 1u);
}

TEST_F(ApiServerTest, CreateGetConflictAndAlreadyExists) {
  http::Response r = Do("POST", kPools, kPool);
  ASSERT_EQ(r.status, 201) << r.body;
  Json created = Body(r);
  EXPECT_FALSE(GetString(created, "metadata.uid").empty());
  EXPECT_EQ(Do("POST", kPools, kPool).status, 409);
  EXPECT_EQ(Body(Do("POST", kPools, kPool))["reason"], "AlreadyExists");

  Json stale = created;
  stale["metadata"]["resourceVersion"] = "1";
  stale["spec"]["replicas"] = 5;
  r = Do("PUT", std::string(kPools) + "/pool", DumpJson(stale));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["reason"], "Conflict");
  Json fresh = created;
  fresh["spec"]["replicas"] = 5;
  r = Do("PUT", std::string(kPools) + "/pool", DumpJson(fresh));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(Do("GET", std::string(kPools) + "/pool"))["spec"]["replicas"], 5);
}

TEST_F(ApiServerTest, InvalidObjectsGet422AndChangeNothing) {
  std::string bad = kPool;
  bad.replace(bad.find("\"replicas\":2"), 12, "\"replicas\":-1");
  http::Response r = Do("POST", kPools, bad);
  ASSERT_EQ(r.status, 422) << r.body;
  Json s = Body(r);
  EXPECT_EQ(s["reason"], "Invalid");
  EXPECT_EQ(s["message"],
            "SandboxWarmPool.extensions.agents.x-k8s.io \"pool\" is invalid: spec.replicas: "
            "Invalid value: -1: must be greater than or equal to 0");
  EXPECT_EQ(s["details"]["causes"][0]["field"], "spec.replicas");
  EXPECT_EQ(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
  EXPECT_EQ(Do("GET", std::string(kPools) + "/pool").status, 404);

  std::string unknown = kPool;
  unknown.replace(unknown.find("\"replicas\""), 0, "\"foo\":1,");
  r = Do("POST", std::string(kPools) + "?fieldValidation=Strict", unknown);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("unknown field \"spec.foo\""),
            std::string::npos);
  r = Do("POST", std::string(kPools) + "?fieldValidation=Warn", unknown);
  EXPECT_EQ(r.status, 201);
  EXPECT_TRUE(r.headers.Get("Warning"));
  EXPECT_FALSE(Body(r)["spec"].contains("foo"));

  EXPECT_EQ(Do("POST", kPools, "{not json").status, 400);
  EXPECT_EQ(Do("POST", kPools, kPool, "text/csv").status, 415);
  EXPECT_EQ(Do("PATCH", kPools, "{}").status, 405);
}

// Hostile bodies get a clear Status and leave asbd standing: a 10^6-deep array (it used to
// segfault the 422 message), a YAML alias bomb (it used to become a 21 MB object), an object
// over the 1.5 MiB object limit, annotations over 256 KiB, and JSON patches that grow without
// bound.
TEST_F(ApiServerTest, OversizedAndDeepBodiesAreRefused) {
  std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  http::Response r = Do("POST", kPools, deep);
  ASSERT_EQ(r.status, 400) << r.body.substr(0, 300);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("nesting depth exceeds the limit of 100"),
            std::string::npos)
      << r.body;

  std::string bomb =
      "apiVersion: extensions.agents.x-k8s.io/v1alpha1\nkind: SandboxWarmPool\n"
      "metadata: {name: pool}\nspec:\n  replicas: 1\n  sandboxTemplateRef: {name: t}\n"
      "  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string("  ") + c + ": &" + c + " [*" + prev + ",*" + prev + ",*" + prev + ",*" +
            prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n";
  }
  r = Do("POST", kPools, bomb, "application/yaml");
  ASSERT_EQ(r.status, 400) << r.body.substr(0, 300);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("excessive aliasing"), std::string::npos);

  Json big = ParseJson(kPool).value();
  big["spec"]["filler"] = std::string(1600 * 1024, 'x');
  r = Do("POST", kPools, DumpJson(big));
  ASSERT_EQ(r.status, 413) << r.body.substr(0, 300);
  EXPECT_EQ(Body(r)["reason"], "RequestEntityTooLarge");

  Json annotated = ParseJson(kPool).value();
  annotated["metadata"]["annotations"] = {{"a", std::string(262144, 'x')}};
  r = Do("POST", kPools, DumpJson(annotated));
  ASSERT_EQ(r.status, 422) << r.body.substr(0, 300);
  EXPECT_EQ(Body(r)["message"],
            "SandboxWarmPool.extensions.agents.x-k8s.io \"pool\" is invalid: metadata.annotations: "
            "Too long: may not be more than 262144 bytes");
  EXPECT_EQ(Body(r)["details"]["causes"][0]["reason"], "FieldValueTooLong");
  EXPECT_EQ(Do("GET", std::string(kPools) + "/pool").status, 404);

  // JSON patches: copying the object into itself doubles it per operation; more than 10000
  // operations are refused up front.
  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  Json doubling = Json::array({{{"op", "add"}, {"path", "/spec/x"}, {"value", {1, 2, 3, 4}}}});
  for (int i = 0; i < 40; ++i)
    doubling.push_back(
        {{"op", "copy"}, {"from", "/spec"}, {"path", "/spec/k" + std::to_string(i)}});
  r = Do("PATCH", std::string(kPools) + "/pool", DumpJson(doubling), "application/json-patch+json");
  ASSERT_EQ(r.status, 413) << r.body.substr(0, 300);
  Json many = Json::array();
  for (int i = 0; i < 10001; ++i)
    many.push_back({{"op", "test"}, {"path", "/kind"}, {"value", "x"}});
  r = Do("PATCH", std::string(kPools) + "/pool", DumpJson(many), "application/json-patch+json");
  ASSERT_EQ(r.status, 413) << r.body.substr(0, 300);
  EXPECT_EQ(Body(r)["message"],
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
            "got 10001");
  EXPECT_EQ(Body(Do("GET", std::string(kPools) + "/pool"))["spec"]["replicas"], 2);
}

// The name rule follows the kind as in Kubernetes: custom resources are subdomains (a
// 64-character Sandbox is fine), Namespaces labels (64 characters get the length message).
TEST_F(ApiServerTest, NameRulesPerKind) {
  const std::string n64(64, 'a');
  std::string sandbox =
      R"({"metadata":{"name":")" + n64 +
      R"("},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a","image":"i"}]}}}})";
  http::Response r =
      Do("POST", "/apis/agents.x-k8s.io/v1alpha1/namespaces/default/sandboxes", sandbox);
  EXPECT_EQ(r.status, 201) << r.body;
  r = Do("POST", "/api/v1/namespaces", R"({"metadata":{"name":")" + n64 + R"("}})");
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["message"], "Namespace \"" + n64 +
                                    "\" is invalid: metadata.name: Invalid value: \"" + n64 +
                                    "\": must be no more than 63 characters");
  EXPECT_EQ(Body(r)["details"]["causes"][0]["field"], "metadata.name");
}

// A bad quantity is refused at create, on the field, instead of failing later on the node.
TEST_F(ApiServerTest, BadQuantitiesAreRefusedAtCreate) {
  std::string tpl =
      R"({"metadata":{"name":"t"},"spec":{"podTemplate":{"spec":{"containers":[{"name":"a",)"
      R"("image":"i","resources":{"limits":{"cpu":"lots"}}}]}}}})";
  http::Response r = Do(
      "POST", "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxtemplates", tpl);
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["details"]["causes"][0]["field"],
            "spec.podTemplate.spec.containers[0].resources.limits.cpu");
  std::string pod = R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i",)"
                    R"("resources":{"requests":{"memory":"lots"}}}]}})";
  r = Do("POST", "/api/v1/namespaces/default/pods", pod);
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["message"],
            "Pod \"p\" is invalid: spec.containers[0].resources.requests[memory]: Invalid value: "
            "\"lots\": quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
}

// Pod spec updates Kubernetes forbids get 422 (a nodeName change used to leave a pod stuck);
// images may change, and binding (nodeName from empty) still works.
TEST_F(ApiServerTest, PodSpecUpdatesAreLimitedToMutableFields) {
  const std::string pods = "/api/v1/namespaces/default/pods";
  http::Response r = Do("POST", pods,
                        R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a",)"
                        R"("image":"i","env":[{"name":"X","value":"1"}]}]}})");
  ASSERT_EQ(r.status, 201) << r.body;
  r = Do("PATCH", pods + "/p",
         R"({"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"2"}]}]}})",
         "application/strategic-merge-patch+json");
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["details"]["causes"][0]["field"], "spec");
  EXPECT_NE(Body(r)["message"].get<std::string>().find(
                "spec: Forbidden: pod updates may not change fields other than"),
            std::string::npos)
      << r.body;
  r = Do("PATCH", pods + "/p", R"({"spec":{"containers":[{"name":"a","image":"j"}]}})",
         "application/strategic-merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Do("PATCH", pods + "/p", R"({"spec":{"nodeName":"node-1"}})",
         "application/strategic-merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Do("PATCH", pods + "/p", R"({"spec":{"nodeName":"node-2"}})",
         "application/strategic-merge-patch+json");
  ASSERT_EQ(r.status, 422) << r.body;
  Json got = Body(Do("GET", pods + "/p"));
  EXPECT_EQ(got["spec"]["nodeName"], "node-1");
  EXPECT_EQ(got["spec"]["containers"][0]["image"], "j");
  // Status writes are not spec updates.
  got["status"] = {{"phase", "Running"}};
  r = Do("PUT", pods + "/p/status", DumpJson(got));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ApiServerTest, YamlBodiesAndPatches) {
  std::string yaml =
      "apiVersion: extensions.agents.x-k8s.io/v1alpha1\nkind: SandboxWarmPool\n"
      "metadata: {name: pool}\nspec:\n  replicas: 1\n  sandboxTemplateRef: {name: t}\n";
  ASSERT_EQ(Do("POST", kPools, yaml, "application/yaml").status, 201);
  std::string item = std::string(kPools) + "/pool";
  http::Response r =
      Do("PATCH", item, R"({"spec":{"replicas":4}})", "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["spec"]["replicas"], 4);
  r = Do("PATCH", item, R"([{"op":"replace","path":"/spec/replicas","value":6}])",
         "application/json-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["spec"]["replicas"], 6);
  r = Do("PATCH", item, R"({"spec":{"replicas":-3}})", "application/merge-patch+json");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(
      Do("PATCH", std::string(kPools) + "/missing", "{}", "application/merge-patch+json").status,
      404);
}

TEST_F(ApiServerTest, ClaimStartupIsServedInBothVersionsAndWriteOnce) {
  const std::string alpha =
      "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/"
      "sandboxclaims";
  const std::string beta =
      "/apis/extensions.agents.x-k8s.io/v1beta1/namespaces/default/"
      "sandboxclaims";
  ASSERT_EQ(
      Do("POST", alpha, R"({"metadata":{"name":"c"},"spec":{"sandboxTemplateRef":{"name":"t"}}})")
          .status,
      201);
  const Json startup = {{"controllerObservedTime", "2026-12-01T10:00:00.000100Z"},
                        {"firstReadyTime", "2026-12-01T10:00:00.002300Z"}};
  http::Response r =
      Do("PATCH", alpha + "/c/status", DumpJson({{"status", {{"startup", startup}}}}),
         "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["status"]["startup"], startup);
  // Read in v1beta1 and in v1alpha1: the same fields, nothing pruned or renamed.
  EXPECT_EQ(Body(Do("GET", beta + "/c"))["status"]["startup"], startup);
  EXPECT_EQ(Body(Do("GET", alpha + "/c"))["status"]["startup"], startup);

  // Once set, a value can be neither changed nor removed (in either version).
  r = Do("PATCH", beta + "/c/status",
         R"({"status":{"startup":{"firstReadyTime":"2026-12-01T11:00:00.000000Z"}}})",
         "application/merge-patch+json");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("status.startup.firstReadyTime"), std::string::npos) << r.body;
  r = Do("PATCH", alpha + "/c/status", R"({"status":{"startup":{"controllerObservedTime":null}}})",
         "application/merge-patch+json");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("immutable"), std::string::npos) << r.body;
  // Adding the one not yet set is allowed.
  r = Do("PATCH", beta + "/c/status",
         R"({"status":{"startup":{"admissionObservedTime":"2026-12-01T10:00:00.000000Z"}}})",
         "application/merge-patch+json");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(Do("GET", alpha + "/c"))["status"]["startup"].size(), 3u);
}

TEST_F(ApiServerTest, ScaleSubresource) {
  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  std::string scale = std::string(kPools) + "/pool/scale";
  Json s = Body(Do("GET", scale));
  EXPECT_EQ(s["kind"], "Scale");
  EXPECT_EQ(s["spec"]["replicas"], 2);
  http::Response r =
      Do("PATCH", scale, R"({"spec":{"replicas":3}})", "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["spec"]["replicas"], 3);
  EXPECT_EQ(Body(Do("GET", std::string(kPools) + "/pool"))["spec"]["replicas"], 3);
  s["spec"]["replicas"] = 1;
  s["metadata"].erase("resourceVersion");
  ASSERT_EQ(Do("PUT", scale, DumpJson(s)).status, 200);
  EXPECT_EQ(Body(Do("GET", std::string(kPools) + "/pool"))["spec"]["replicas"], 1);
  EXPECT_EQ(
      Do("PATCH", scale, R"({"spec":{"replicas":-1}})", "application/merge-patch+json").status,
      422);
}

TEST_F(ApiServerTest, StatusSubresourceOnlyChangesStatus) {
  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  std::string item = std::string(kPools) + "/pool";
  http::Response r =
      Do("PATCH", item + "/status", R"({"status":{"readyReplicas":2},"spec":{"replicas":9}})",
         "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  Json got = Body(Do("GET", item));
  EXPECT_EQ(got["status"]["readyReplicas"], 2);
  EXPECT_EQ(got["spec"]["replicas"], 2);
  // A main-resource write can't change status.
  r = Do("PATCH", item, R"({"status":{"readyReplicas":7}})", "application/merge-patch+json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(Do("GET", item))["status"]["readyReplicas"], 2);
}

TEST_F(ApiServerTest, SelectorsOnListAndTable) {
  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  std::string other = kPool;
  other.replace(other.find("\"pool\""), 6, "\"other\"");
  other.replace(other.find("\"a\""), 3, "\"b\"");
  ASSERT_EQ(Do("POST", kPools, other).status, 201);
  Json l = Body(Do("GET", std::string(kPools) + "?labelSelector=tier%3Db"));
  ASSERT_EQ(l["items"].size(), 1u);
  EXPECT_EQ(l["items"][0]["metadata"]["name"], "other");
  l = Body(Do("GET", std::string(kPools) + "?fieldSelector=metadata.name%3Dpool"));
  ASSERT_EQ(l["items"].size(), 1u);
  EXPECT_EQ(Do("GET", std::string(kPools) + "?labelSelector=%3D%3D%3D").status, 400);

  http::Request req;
  req.method = "GET";
  req.target = kPools;
  ASSERT_TRUE(req.ParseTarget());
  req.headers.Set("Authorization", "Bearer secret");
  req.headers.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  Json table = Body(api_->Handle(req));
  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["columnDefinitions"][1]["name"], "Ready");
  EXPECT_EQ(table["rows"].size(), 2u);
}

// kubectl get (Table form, --chunk-size=N) pages by following metadata.continue: the Table must
// carry the token or the listing silently stops after the first page.
TEST_F(ApiServerTest, TableListPagesWithContinue) {
  std::set<std::string> created;
  for (int i = 0; i < 30; ++i) {
    std::string pool = kPool;
    std::string name = "pool-" + std::to_string(i);
    pool.replace(pool.find("\"pool\""), 6, "\"" + name + "\"");
    ASSERT_EQ(Do("POST", kPools, pool).status, 201);
    created.insert(name);
  }
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    http::Request req;
    req.method = "GET";
    req.target = std::string(kPools) + "?limit=1" + (token.empty() ? "" : "&continue=" + token);
    ASSERT_TRUE(req.ParseTarget());
    req.headers.Set("Authorization", "Bearer secret");
    req.headers.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
    http::Response r = api_->Handle(req);
    ASSERT_EQ(r.status, 200) << r.body;
    Json table = Body(r);
    ASSERT_EQ(table["kind"], "Table");
    ASSERT_EQ(table["rows"].size(), 1u);
    seen.insert(table["rows"][0]["object"]["metadata"]["name"].get<std::string>());
    token = table["metadata"].value("continue", "");
    ASSERT_LE(++pages, 31);
  } while (!token.empty());
  EXPECT_EQ(pages, 30);
  EXPECT_EQ(seen, created);
}

TEST_F(ApiServerTest, WatchFromResourceVersionAndExpired) {
  Json first = Body(Do("POST", kPools, kPool));
  std::string rv = GetString(first, "metadata.resourceVersion");
  std::string other = kPool;
  other.replace(other.find("\"pool\""), 6, "\"other\"");
  ASSERT_EQ(Do("POST", kPools, other).status, 201);
  auto events = Watch(std::string(kPools) + "?watch=True&timeoutSeconds=1&resourceVersion=" + rv);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "other");

  // With rv unset, the current state comes first as ADDED events.
  events =
      Watch(std::string(kPools) + "?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dpool");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "pool");

  // Push the first revision out of the (8-event) window: 410 Expired as an ERROR event.
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(
        Do("PATCH", std::string(kPools) + "/pool",
           R"({"spec":{"replicas":)" + std::to_string(i) + "}}", "application/merge-patch+json")
            .status,
        200);
  events = Watch(std::string(kPools) + "?watch=true&timeoutSeconds=1&resourceVersion=" + rv);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
  EXPECT_EQ(Do("GET", std::string(kPools) + "?watch=maybe").status, 400);
}

TEST_F(ApiServerTest, DeleteAndNamespaces) {
  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  http::Response r =
      Do("DELETE", std::string(kPools) + "/pool", R"({"propagationPolicy":"Foreground"})");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(
      asb::testing::WaitFor([&] { return Do("GET", std::string(kPools) + "/pool").status == 404; },
                            std::chrono::seconds(5)));
  EXPECT_EQ(Do("DELETE", std::string(kPools) + "/pool").status, 404);
  EXPECT_EQ(Do("DELETE", std::string(kPools) + "/x", R"({"propagationPolicy":"Sideways"})").status,
            400);

  ASSERT_EQ(Do("POST", "/api/v1/namespaces", R"({"metadata":{"name":"team-a"}})").status, 201);
  EXPECT_EQ(Body(Do("GET", "/api/v1/namespaces/team-a"))["metadata"]["name"], "team-a");
  EXPECT_EQ(Do("POST", "/api/v1/namespaces", R"({"metadata":{"name":"Bad_NS"}})").status, 422);
  std::string in_ns = kPool;
  r = Do("POST", "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/team-a/sandboxwarmpools",
         in_ns);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["namespace"], "team-a");
  Json all = Body(Do("GET", "/apis/extensions.agents.x-k8s.io/v1alpha1/sandboxwarmpools"));
  EXPECT_EQ(all["items"].size(), 1u);
}

// Errors about the namespace say so (details), a terminating namespace is Forbidden (by code,
// not by the wording of its message), and patch retries decide on the code: a patch that pins a
// stale resourceVersion gets the Conflict, one that merely mentions the word does not.
TEST_F(ApiServerTest, NamespaceErrorsAndPatchConflictsByCode) {
  const std::string in_ns = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/";
  http::Response r = Do("POST", in_ns + "nope/sandboxwarmpools", kPool);
  ASSERT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Body(r)["reason"], "NotFound");
  EXPECT_EQ(Body(r)["message"], "namespaces \"nope\" not found");
  EXPECT_EQ(Body(r)["details"]["kind"], "namespaces");
  EXPECT_EQ(Body(r)["details"]["name"], "nope");

  ASSERT_EQ(
      Do("POST", "/api/v1/namespaces", R"({"metadata":{"name":"going","finalizers":["x/y"]}})")
          .status,
      201);
  ASSERT_EQ(Do("DELETE", "/api/v1/namespaces/going").status, 200);
  r = Do("POST", in_ns + "going/sandboxwarmpools", kPool);
  ASSERT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Body(r)["reason"], "Forbidden");

  ASSERT_EQ(Do("POST", kPools, kPool).status, 201);
  const std::string pool = std::string(kPools) + "/pool";
  r = Do("PATCH", pool, R"({"metadata":{"resourceVersion":"1"},"spec":{"replicas":3}})",
         "application/merge-patch+json");
  ASSERT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["reason"], "Conflict");
  EXPECT_EQ(Body(r)["message"].get<std::string>().rfind(
                "Operation cannot be fulfilled on sandboxwarmpools.extensions.agents.x-k8s.io "
                "\"pool\": ",
                0),
            0u);
  r = Do("PATCH", pool, R"([{"op":"replace","path":"/metadata/resourceVersion","value":"1"}])",
         "application/json-patch+json");
  EXPECT_EQ(r.status, 409) << r.body;
  r = Do("PATCH", pool, R"({"metadata":{"labels":{"resourceVersion":"x"}}})",
         "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["labels"]["resourceVersion"], "x");

  r = Do("PATCH", pool, "{}", "text/plain");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(Body(r)["reason"], "UnsupportedMediaType");
  r = Do("POST", pool, kPool);  // POST on a named object
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Body(r)["reason"], "MethodNotAllowed");
}

// asbd's listener renders its own errors (an oversized body) as a Status too.
TEST(ApiServerListenerTest, OversizedBodyIsAKubernetesStatus) {
  http::ServerOptions opts;
  opts.max_body_bytes = 16;
  opts.render_error = StatusResponse;
  auto server =
      http::Server::Start(opts, [](http::Request&) { return http::Response::Text(200, ""); });
  ASSERT_TRUE(server) << server.error().message;
  http::Request req{.method = "POST", .target = "/api/v1/namespaces", .body = std::string(64, 'x')};
  auto resp = http::Fetch("127.0.0.1", (*server)->port(), req);
  ASSERT_TRUE(resp) << resp.error().message;
  EXPECT_EQ(resp->status, 413);
  Json s = ParseJson(resp->body).value();
  EXPECT_EQ(s["kind"], "Status");
  EXPECT_EQ(s["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(s["code"], 413);
}

}  // namespace
}  // namespace asb::apiserver
