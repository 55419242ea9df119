// Handler-level tests: in-memory http::Requests against a real SqliteStore in a temp dir.
#include "apiserver/api_server.h"

#include <gtest/gtest.h>

#include <set>

#include "apiserver/discovery.h"
#include "base/strings.h"
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

}  // namespace
}  // namespace asb::apiserver
