// RestStore against asbd's own API server in-process, over TLS on loopback (ApiServer behind
// http::Server behind TlsFront, as `asbd serve` wires them), so every call goes through the real
// HTTPS client, the Kubernetes REST protocol and the server's Status errors.
#include "kube/rest_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <set>

#include "apiserver/api_server.h"
#include "apiserver/k8s_status.h"
#include "apiserver/tls_front.h"
#include "base/file_util.h"
#include "http/server.h"
#include "store/memory_store.h"
#include "tests/testing/store_fixtures.h"
#include "tests/testing/test_util.h"

namespace asb::kube {
namespace {

using asb::testing::MakeObj;

constexpr char kToken[] = "s3cret-token";

// The server side in this process (TlsFront writes with SSL_write) relies on SIGPIPE being
// ignored, as asbd's main ignores it; the client side (Transport) does not need it.
const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

class RestStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(apiserver::ApiServerOptions api_opts, store::ObjectStoreOptions so = {}) {
    front_.reset();
    server_.reset();
    api_.reset();
    ASSERT_OK_AND_ASSIGN(backing_, store::MemoryStore::Open(so));
    api_opts.token = kToken;
    api_opts.watch_poll = std::chrono::milliseconds(20);
    api_ = std::make_unique<apiserver::ApiServer>(*backing_, api_opts);
    http::ServerOptions ho;
    ho.render_error = apiserver::StatusResponse;
    ASSERT_OK_AND_ASSIGN(server_, http::Server::Start(ho, api_->AsHandler()));
    ASSERT_OK_AND_ASSIGN(cert_, apiserver::GenerateSelfSignedCert({"127.0.0.1", "localhost"}));
    ASSERT_OK_AND_ASSIGN(front_,
                         apiserver::TlsFront::Start("127.0.0.1", 0, server_->port(), cert_));
  }
  void TearDown() override {
    if (api_) api_->Shutdown();
    if (front_) front_->Stop();
    if (server_) server_->Stop();
  }

  RestConfig Config() {
    RestConfig rc;
    rc.host = "127.0.0.1";
    rc.port = front_->port();
    rc.ca_pem = cert_.cert_pem;
    rc.token = kToken;
    return rc;
  }
  std::unique_ptr<RestStore> Open(RestConfig rc, RestStoreOptions o = {}, TransportOptions t = {}) {
    auto s = OpenRestStore(rc, t, o);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
  std::unique_ptr<RestStore> Open() { return Open(Config()); }

  std::unique_ptr<store::MemoryStore> backing_;
  std::unique_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<apiserver::TlsFront> front_;
  apiserver::CertificatePair cert_;
  asb::testing::TempDir dir_;
};

const api::ResourceInfo& Svc() { return api::ServiceResource(); }

Json Service(const std::string& name, Json labels = nullptr) {
  Json o = MakeObj("default", name, std::move(labels), {{"ports", {{{"port", 80}}}}});
  return o;
}

TEST_F(RestStoreTest, VerifiesTheServerCertificateAgainstTheConfiguredCa) {
  auto good = Open();
  ASSERT_OK(good->Get(api::NamespaceResource(), "", "default"));

  // Another CA: the handshake must fail, and say why.
  ASSERT_OK_AND_ASSIGN(auto other, apiserver::GenerateSelfSignedCert({"127.0.0.1"}));
  RestConfig rc = Config();
  rc.ca_pem = other.cert_pem;
  auto bad = Open(rc, {}, TransportOptions{.max_retries = 0});
  auto got = bad->Get(api::NamespaceResource(), "", "default");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Code::kUnavailable);
  EXPECT_NE(got.error().message.find("certificate verify failed"), std::string::npos)
      << got.error().message;

  // The certificate names 127.0.0.1 and localhost, not this address.
  RestConfig wrong_name = Config();
  wrong_name.tls_server_name = "example.com";
  auto named = Open(wrong_name, {}, TransportOptions{.max_retries = 0});
  EXPECT_ERROR_CODE(named->Get(api::NamespaceResource(), "", "default"), Code::kUnavailable);

  // A PEM that is no certificate is refused when the transport is built.
  rc.ca_pem = "not a pem";
  EXPECT_ERROR_CODE(OpenRestStore(rc), Code::kInvalidArgument);
}

TEST_F(RestStoreTest, SendsTheBearerToken) {
  RestConfig rc = Config();
  rc.token = "wrong";
  auto s = Open(rc);
  EXPECT_ERROR_CODE(s->Get(api::NamespaceResource(), "", "default"), Code::kUnauthenticated);
}

TEST_F(RestStoreTest, CreateGetUpdateWithCompareAndSet) {
  auto s = Open();
  ASSERT_OK_AND_ASSIGN(Json created, s->Create(Svc(), Service("a")));
  EXPECT_FALSE(GetString(created, "metadata.uid").empty());
  EXPECT_EQ(created["kind"], "Service");
  EXPECT_ERROR_CODE(s->Create(Svc(), Service("a")), Code::kAlreadyExists);
  EXPECT_ERROR_CODE(s->Get(Svc(), "default", "missing"), Code::kNotFound);

  Json v1 = created;
  v1["metadata"]["labels"]["x"] = "1";
  ASSERT_OK_AND_ASSIGN(Json updated, s->Update(Svc(), v1));
  EXPECT_NE(GetString(updated, "metadata.resourceVersion"),
            GetString(created, "metadata.resourceVersion"));
  // A write at the old revision loses: 409 Conflict -> kAborted, and nothing changed.
  Json stale = created;
  stale["metadata"]["labels"]["x"] = "2";
  EXPECT_ERROR_CODE(s->Update(Svc(), stale), Code::kAborted);
  ASSERT_OK_AND_ASSIGN(Json now, s->Get(Svc(), "default", "a"));
  EXPECT_EQ(GetString(now, "metadata.labels.x"), "1");
}

TEST_F(RestStoreTest, StatusGoesThroughTheStatusSubresource) {
  auto s = Open();
  const api::ResourceInfo& sb = api::SandboxResource();
  Json obj =
      MakeObj("default", "sb", nullptr,
              {{"podTemplate", {{"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}}}});
  obj["status"] = {{"serviceFQDN", "one"}};
  // A create drops .status (as every API create does) unless keep_status asks for the second
  // write.
  ASSERT_OK_AND_ASSIGN(Json plain, s->Create(sb, obj));
  EXPECT_FALSE(Find(plain, "status.serviceFQDN"));
  obj["metadata"]["name"] = "kept";
  ASSERT_OK_AND_ASSIGN(Json kept, s->Create(sb, obj, {.keep_status = true}));
  EXPECT_EQ(kept["status"]["serviceFQDN"], "one");
  ASSERT_OK_AND_ASSIGN(Json stored, backing_->Get(sb, "default", "kept"));
  EXPECT_EQ(stored["status"]["serviceFQDN"], "one");

  // A main-resource write keeps the stored status; a status write changes only status.
  Json main = kept;
  main["status"]["serviceFQDN"] = "five";
  main["metadata"]["labels"]["l"] = "v";
  ASSERT_OK_AND_ASSIGN(Json after_main, s->Update(sb, main));
  EXPECT_EQ(after_main["status"]["serviceFQDN"], "one");
  Json st = after_main;
  st["status"]["serviceFQDN"] = "zero";
  st["metadata"]["labels"]["l"] = "changed";
  ASSERT_OK_AND_ASSIGN(Json after_status, s->Update(sb, st, {.status_only = true}));
  EXPECT_EQ(after_status["status"]["serviceFQDN"], "zero");
  EXPECT_EQ(GetString(after_status, "metadata.labels.l"), "v");
}

TEST_F(RestStoreTest, DeleteHonoursPreconditionsAndFinalizers) {
  auto s = Open();
  ASSERT_OK_AND_ASSIGN(Json a, s->Create(Svc(), Service("a")));
  store::DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "not-the-uid";
  EXPECT_ERROR_CODE(s->Delete(Svc(), "default", "a", wrong_uid), Code::kAborted);
  store::DeleteOptions wrong_rv;
  wrong_rv.precondition_resource_version = "1";
  EXPECT_ERROR_CODE(s->Delete(Svc(), "default", "a", wrong_rv), Code::kAborted);
  store::DeleteOptions right;
  right.precondition_uid = GetString(a, "metadata.uid");
  right.precondition_resource_version = GetString(a, "metadata.resourceVersion");
  ASSERT_OK_AND_ASSIGN(Json gone, s->Delete(Svc(), "default", "a", right));
  EXPECT_EQ(GetString(gone, "metadata.name"), "a");
  EXPECT_ERROR_CODE(s->Get(Svc(), "default", "a"), Code::kNotFound);
  EXPECT_ERROR_CODE(s->Delete(Svc(), "default", "a"), Code::kNotFound);

  // With a finalizer the object stays, deleting.
  Json f = Service("f");
  f["metadata"]["finalizers"] = {"example.com/keep"};
  ASSERT_OK(s->Create(Svc(), f));
  ASSERT_OK_AND_ASSIGN(Json deleting, s->Delete(Svc(), "default", "f"));
  EXPECT_TRUE(Find(deleting, "metadata.deletionTimestamp"));
  ASSERT_OK(s->Get(Svc(), "default", "f"));

  // Foreground propagation is what the server is told (it adds foregroundDeletion).
  ASSERT_OK(s->Create(Svc(), Service("fg")));
  store::DeleteOptions fg;
  fg.propagation = store::Propagation::kForeground;
  ASSERT_OK_AND_ASSIGN(Json fg_deleting, s->Delete(Svc(), "default", "fg", fg));
  EXPECT_NE(DumpJson(fg_deleting["metadata"]["finalizers"]).find("foregroundDeletion"),
            std::string::npos);
}

TEST_F(RestStoreTest, ListReadsEveryPageOrOneWithItsContinueToken) {
  auto s = Open(Config(), RestStoreOptions{.list_page_size = 3});
  for (int i = 0; i < 8; ++i)
    ASSERT_OK(
        s->Create(Svc(), Service("s" + std::to_string(i), {{"parity", i % 2 ? "odd" : "even"}})));
  ASSERT_OK_AND_ASSIGN(store::ListResult all, s->List(Svc(), "default", {}));
  ASSERT_EQ(all.items.size(), 8u);
  std::set<std::string> names;
  for (const Json& o : all.items) {
    names.insert(GetString(o, "metadata.name"));
    EXPECT_EQ(o["kind"], "Service");  // items get apiVersion/kind back
  }
  EXPECT_EQ(names.size(), 8u);
  EXPECT_GT(all.resource_version, 0);
  EXPECT_TRUE(all.continue_token.empty());

  store::ListOptions two;
  two.limit = 2;
  ASSERT_OK_AND_ASSIGN(store::ListResult page, s->List(Svc(), "default", two));
  EXPECT_EQ(page.items.size(), 2u);
  EXPECT_FALSE(page.continue_token.empty());
  two.continue_token = page.continue_token;
  ASSERT_OK_AND_ASSIGN(store::ListResult page2, s->List(Svc(), "default", two));
  EXPECT_EQ(page2.items.size(), 2u);
  EXPECT_NE(page2.items[0]["metadata"]["name"], page.items[0]["metadata"]["name"]);

  store::ListOptions odd;
  odd.label_selector = "parity=odd";
  ASSERT_OK_AND_ASSIGN(store::ListResult odds, s->List(Svc(), "default", odd));
  EXPECT_EQ(odds.items.size(), 4u);
  store::ListOptions bad;
  bad.label_selector = "a in (";
  EXPECT_ERROR_CODE(s->List(Svc(), "default", bad), Code::kInvalidArgument);
}

// Drains `w` until `n` non-bookmark events arrived or 5 s passed.
std::vector<store::WatchEvent> Take(store::Watcher& w, size_t n) {
  std::vector<store::WatchEvent> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto ev = w.Next(std::chrono::milliseconds(100));
    if (!ev) {
      ADD_FAILURE() << "watch error: " << ev.error().message;
      break;
    }
    if (*ev && (*ev)->type != store::EventType::kBookmark) out.push_back(std::move(**ev));
  }
  return out;
}

TEST_F(RestStoreTest, WatchListsThenStreamsChanges) {
  auto s = Open();
  ASSERT_OK(s->Create(Svc(), Service("before")));
  ASSERT_OK_AND_ASSIGN(auto w, s->Watch(Svc(), "default", {}));
  ASSERT_OK_AND_ASSIGN(Json during, s->Create(Svc(), Service("during")));
  during["metadata"]["labels"]["x"] = "y";
  ASSERT_OK(s->Update(Svc(), during));
  ASSERT_OK(s->Delete(Svc(), "default", "during"));
  auto evs = Take(*w, 4);
  ASSERT_EQ(evs.size(), 4u);
  EXPECT_EQ(evs[0].type, store::EventType::kAdded);
  EXPECT_EQ(GetString(evs[0].object, "metadata.name"), "before");
  EXPECT_EQ(evs[1].type, store::EventType::kAdded);
  EXPECT_EQ(evs[2].type, store::EventType::kModified);
  EXPECT_EQ(evs[3].type, store::EventType::kDeleted);
  EXPECT_GT(evs[3].resource_version, evs[2].resource_version);
  w->Stop();
  EXPECT_ERROR_CODE(w->Next(std::chrono::milliseconds(10)), Code::kAborted);
}

TEST_F(RestStoreTest, WatchResumesWhenTheServerEndsTheStream) {
  TearDown();
  apiserver::ApiServerOptions o;
  o.max_watch_duration = std::chrono::seconds(1);  // the server ends every stream after 1 s
  StartServer(o);
  auto s = Open();
  ASSERT_OK_AND_ASSIGN(auto w, s->Watch(Svc(), "default", {.send_initial_events = false}));
  ASSERT_OK(s->Create(Svc(), Service("one")));
  auto first = Take(*w, 1);
  ASSERT_EQ(first.size(), 1u);
  uint64_t requests_before = s->transport().requests();
  // Past the server's timeout: the watcher re-opened from the revision it saw, so the next
  // event arrives once, with nothing replayed or lost.
  ASSERT_TRUE(asb::testing::WaitFor([&] { return s->transport().requests() > requests_before + 1; },
                                    std::chrono::seconds(5)));
  ASSERT_OK(s->Create(Svc(), Service("two")));
  auto second = Take(*w, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(GetString(second[0].object, "metadata.name"), "two");
  auto extra = w->Next(std::chrono::milliseconds(300));
  ASSERT_TRUE(extra);
  EXPECT_TRUE(!*extra || (*extra)->type == store::EventType::kBookmark);
}

TEST_F(RestStoreTest, WatchFromAnExpiredRevisionIsGone) {
  TearDown();
  store::ObjectStoreOptions so;
  so.watch_log_capacity = 4;  // the server keeps only the last four events
  StartServer({}, so);
  auto s = Open();
  ASSERT_OK_AND_ASSIGN(Json first, s->Create(Svc(), Service("s0")));
  for (int i = 1; i < 10; ++i) ASSERT_OK(s->Create(Svc(), Service("s" + std::to_string(i))));
  store::WatchOptions old;
  old.resource_version = std::stoll(GetString(first, "metadata.resourceVersion"));
  ASSERT_OK_AND_ASSIGN(auto w, s->Watch(Svc(), "default", old));
  Result<std::optional<store::WatchEvent>> ev = std::optional<store::WatchEvent>();
  ASSERT_TRUE(asb::testing::WaitFor([&] {
    ev = w->Next(std::chrono::milliseconds(50));
    return !ev;
  }));
  EXPECT_EQ(ev.error().code, Code::kGone);
}

TEST_F(RestStoreTest, ExecCredentialPluginTokenIsCachedUntilItExpires) {
  std::string count = dir_.path() + "/runs";
  std::string plugin = dir_.path() + "/plugin.sh";
  // The plugin checks that it was told what is asked (KUBERNETES_EXEC_INFO) and its env entry.
  asb::testing::WriteFileOrDie(
      plugin,
      "#!/bin/sh\n"
      "echo run >> \"$COUNT\"\n"
      "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 3;; esac\n"
      "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
      "\"status\":{\"token\":\"'\"$TOKEN\"'\",\"expirationTimestamp\":\"'\"$EXPIRES\"'\"}}'\n",
      0755);
  std::string kubeconfig = dir_.path() + "/kubeconfig";
  auto write_config = [&](const std::string& expires) {
    Json kc = {{"apiVersion", "v1"},
               {"kind", "Config"},
               {"current-context", "c"},
               {"clusters",
                {{{"name", "k"},
                  {"cluster",
                   {{"server", "https://127.0.0.1:" + std::to_string(front_->port())},
                    {"certificate-authority-data", apiserver::Base64Encode(cert_.cert_pem)}}}}}},
               {"users",
                {{{"name", "u"},
                  {"user",
                   {{"exec",
                     {{"apiVersion", "client.authentication.k8s.io/v1"},
                      {"command", plugin},
                      {"env",
                       {{{"name", "COUNT"}, {"value", count}},
                        {{"name", "TOKEN"}, {"value", kToken}},
                        {{"name", "EXPIRES"}, {"value", expires}}}}}}}}}}},
               {"contexts", {{{"name", "c"}, {"context", {{"cluster", "k"}, {"user", "u"}}}}}}};
    asb::testing::WriteFileOrDie(kubeconfig, DumpJson(kc));
  };
  auto runs = [&] {
    auto t = ReadFile(count);
    return t ? std::count(t->begin(), t->end(), '\n') : 0;
  };

  write_config("2200-01-01T00:00:00Z");
  ASSERT_OK_AND_ASSIGN(RestConfig rc, LoadKubeconfigFile(kubeconfig));
  ASSERT_TRUE(rc.exec);
  auto s = Open(rc);
  ASSERT_OK(s->Get(api::NamespaceResource(), "", "default"));
  ASSERT_OK(s->Get(api::NamespaceResource(), "", "default"));
  EXPECT_EQ(runs(), 1) << "a token valid until 2200 is fetched once";

  // Already expired: every request needs a fresh one.
  ::unlink(count.c_str());
  write_config("2000-01-01T00:00:00Z");
  ASSERT_OK_AND_ASSIGN(RestConfig expired, LoadKubeconfigFile(kubeconfig));
  auto s2 = Open(expired);
  ASSERT_OK(s2->Get(api::NamespaceResource(), "", "default"));
  ASSERT_OK(s2->Get(api::NamespaceResource(), "", "default"));
  EXPECT_EQ(runs(), 2);

  // A plugin that fails is an error naming it, not a request without credentials.
  asb::testing::WriteFileOrDie(plugin, "#!/bin/sh\necho 'no login' >&2\nexit 1\n", 0755);
  auto s3 = Open(expired);
  auto failed = s3->Get(api::NamespaceResource(), "", "default");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("no login"), std::string::npos) << failed.error().message;
}

TEST_F(RestStoreTest, InClusterConfigReadsTheServiceAccount) {
  std::string sa = dir_.path() + "/sa";
  ASSERT_OK(MakeDirs(sa, 0755));
  asb::testing::WriteFileOrDie(sa + "/token", std::string(kToken) + "\n");
  asb::testing::WriteFileOrDie(sa + "/ca.crt", cert_.cert_pem);
  asb::testing::WriteFileOrDie(sa + "/namespace", "agent-sandbox-system\n");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_ERROR_CODE(InClusterConfig(sa), Code::kFailedPrecondition);
  ::setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", std::to_string(front_->port()).c_str(), 1);
  auto rc = InClusterConfig(sa);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(rc) << rc.error().message;
  EXPECT_EQ(rc->namespace_name, "agent-sandbox-system");
  auto s = Open(*rc);
  ASSERT_OK(s->Get(api::NamespaceResource(), "", "default"));
}

TEST_F(RestStoreTest, KubeconfigFilesAreReadRelativeToIt) {
  asb::testing::WriteFileOrDie(dir_.path() + "/ca.pem", cert_.cert_pem);
  asb::testing::WriteFileOrDie(dir_.path() + "/token", kToken);
  std::string text =
      "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n"
      "  cluster:\n    server: https://127.0.0.1:" +
      std::to_string(front_->port()) +
      "\n    certificate-authority: ca.pem\nusers:\n- name: u\n  user:\n"
      "    tokenFile: token\ncontexts:\n- name: c\n  context:\n    cluster: k\n"
      "    user: u\n    namespace: team\n";
  asb::testing::WriteFileOrDie(dir_.path() + "/config.yaml", text);
  ASSERT_OK_AND_ASSIGN(RestConfig rc, LoadKubeconfigFile(dir_.path() + "/config.yaml"));
  EXPECT_EQ(rc.namespace_name, "team");
  auto s = Open(rc);
  ASSERT_OK(s->Get(api::NamespaceResource(), "", "default"));

  // A client certificate without its key, and a key that is not the certificate's, are refused.
  std::string half = text + "";
  EXPECT_ERROR_CODE(ParseKubeconfigText("clusters:\n- name: k\n  cluster:\n    server: "
                                        "https://h:1\nusers:\n- name: u\n  user:\n"
                                        "    client-certificate-data: " +
                                            apiserver::Base64Encode(cert_.cert_pem) + "\n",
                                        dir_.path()),
                    Code::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto other, apiserver::GenerateSelfSignedCert({"127.0.0.1"}));
  RestConfig mismatched = Config();
  mismatched.client_cert_pem = cert_.cert_pem;
  mismatched.client_key_pem = other.key_pem;
  EXPECT_ERROR_CODE(OpenRestStore(mismatched), Code::kInvalidArgument);
  RestConfig matched = Config();
  matched.client_cert_pem = cert_.cert_pem;
  matched.client_key_pem = cert_.key_pem;
  auto with_cert = Open(matched);
  ASSERT_OK(with_cert->Get(api::NamespaceResource(), "", "default"));
  EXPECT_ERROR_CODE(ParseKubeconfigText("clusters: []\n", ""), Code::kInvalidArgument);
}

// A plain-HTTP server that answers 503 (with Retry-After) or 429 before it answers properly.
// --- Cached reads (RestStoreOptions::cached) ---

RestStoreOptions CachedServices() {
  RestStoreOptions o;
  o.cached = {&api::ServiceResource()};
  return o;
}

TEST_F(RestStoreTest, CachedReadsAnswerGetAndSelectedListsWithoutARequest) {
  for (int i = 0; i < 6; ++i)
    ASSERT_OK(backing_->Create(
        Svc(), Service("s" + std::to_string(i), {{"pool", i % 2 ? "odd" : "even"}})));
  auto s = Open(Config(), CachedServices());
  ASSERT_TRUE(s->WaitCachesSynced(std::chrono::seconds(5)));
  EXPECT_TRUE(s->CachesSynced());
  // The cache's list and watch stream (opened by the watch's own thread): then nothing more.
  ASSERT_TRUE(asb::testing::WaitFor([&] { return s->transport().requests() >= 2; }));
  const uint64_t before = s->transport().requests();

  ASSERT_OK_AND_ASSIGN(Json one, s->Get(Svc(), "default", "s3"));
  EXPECT_EQ(GetString(one, "metadata.labels.pool"), "odd");
  EXPECT_ERROR_CODE(s->Get(Svc(), "default", "missing"), Code::kNotFound);
  store::ListOptions odd;
  odd.label_selector = "pool=odd";
  ASSERT_OK_AND_ASSIGN(store::ListResult odds, s->List(Svc(), "default", odd));
  std::vector<std::string> names;
  for (const Json& o : odds.items) names.push_back(GetString(o, "metadata.name"));
  EXPECT_EQ(names, (std::vector<std::string>{"s1", "s3", "s5"}));
  EXPECT_GT(odds.resource_version, 0);
  // Pages: a limit and the cache's continue token walk the same selection.
  odd.limit = 2;
  ASSERT_OK_AND_ASSIGN(store::ListResult page1, s->List(Svc(), "default", odd));
  ASSERT_EQ(page1.items.size(), 2u);
  ASSERT_FALSE(page1.continue_token.empty());
  odd.continue_token = page1.continue_token;
  ASSERT_OK_AND_ASSIGN(store::ListResult page2, s->List(Svc(), "default", odd));
  ASSERT_EQ(page2.items.size(), 1u);
  EXPECT_EQ(GetString(page2.items[0], "metadata.name"), "s5");
  EXPECT_TRUE(page2.continue_token.empty());
  store::ListOptions bad;
  bad.label_selector = "pool in odd";
  EXPECT_ERROR_CODE(s->List(Svc(), "default", bad), Code::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(store::ListResult other_ns, s->List(Svc(), "kube-system", {}));
  EXPECT_TRUE(other_ns.items.empty());
  EXPECT_EQ(s->transport().requests(), before) << "cached reads reached the server";
  EXPECT_GE(s->read_stats().cache, 7u);

  // Another writer's change reaches the cache by its watch.
  ASSERT_OK(backing_->Delete(Svc(), "default", "s1"));
  ASSERT_TRUE(asb::testing::WaitFor(
      [&] { return s->Get(Svc(), "default", "s1").error().code == Code::kNotFound; }));
  // A label change moves an object between selections (the cache's label index follows it).
  ASSERT_OK_AND_ASSIGN(Json s3, backing_->Get(Svc(), "default", "s3"));
  s3["metadata"]["labels"]["pool"] = "even";
  ASSERT_OK(backing_->Update(Svc(), s3));
  auto names_of = [&](const std::string& selector) {
    store::ListOptions lo;
    lo.label_selector = selector;
    std::vector<std::string> out;
    auto listed = s->List(Svc(), "", lo);
    EXPECT_TRUE(listed) << listed.error().message;
    if (listed)
      for (const Json& o : listed->items) out.push_back(GetString(o, "metadata.name"));
    return out;
  };
  ASSERT_TRUE(asb::testing::WaitFor(
      [&] { return names_of("pool=odd") == std::vector<std::string>{"s5"}; }));
  EXPECT_EQ(names_of("pool in (even)"), (std::vector<std::string>{"s0", "s2", "s3", "s4"}));
  EXPECT_EQ(names_of("pool=even,pool!=odd"), (std::vector<std::string>{"s0", "s2", "s3", "s4"}));
  EXPECT_TRUE(names_of("pool=none").empty());
  EXPECT_EQ(names_of("pool notin (even)"), (std::vector<std::string>{"s5"}));
}

TEST_F(RestStoreTest, CachedReadsSeeThisStoresOwnWrites) {
  // The fixture's server polls its watch log every 20 ms, so a cache lags a write by up to that:
  // without read-your-writes, a Get right after the write would see the older object.
  auto s = Open(Config(), CachedServices());
  ASSERT_TRUE(s->WaitCachesSynced(std::chrono::seconds(5)));
  ASSERT_OK_AND_ASSIGN(Json obj, s->Create(Svc(), Service("a")));
  ASSERT_OK_AND_ASSIGN(Json got, s->Get(Svc(), "default", "a"));
  EXPECT_EQ(GetString(got, "metadata.uid"), GetString(obj, "metadata.uid"));
  for (int i = 0; i < 10; ++i) {
    obj["metadata"]["labels"]["round"] = std::to_string(i);
    ASSERT_OK_AND_ASSIGN(obj, s->Update(Svc(), obj));
    ASSERT_OK_AND_ASSIGN(got, s->Get(Svc(), "default", "a"));
    EXPECT_EQ(GetString(got, "metadata.resourceVersion"),
              GetString(obj, "metadata.resourceVersion"));
    store::ListOptions lo;
    lo.label_selector = "round=" + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(store::ListResult listed, s->List(Svc(), "default", lo));
    EXPECT_EQ(listed.items.size(), 1u) << "round " << i;
  }
  RestReadStats st = s->read_stats();
  EXPECT_GT(st.waited_ryw, 0u);
  EXPECT_EQ(st.fallback, 0u) << "the cache caught up with every write in time";
  EXPECT_GE(st.cache, 21u);
}

TEST_F(RestStoreTest, AConflictSendsTheNextGetOfThatObjectToTheServer) {
  auto s = Open(Config(), CachedServices());
  ASSERT_TRUE(s->WaitCachesSynced(std::chrono::seconds(5)));
  ASSERT_OK_AND_ASSIGN(Json obj, s->Create(Svc(), Service("a")));
  ASSERT_OK_AND_ASSIGN(Json got, s->Get(Svc(), "default", "a"));
  // Another writer moves it on; our compare-and-set at the old revision conflicts.
  Json theirs = obj;
  theirs["metadata"]["labels"]["by"] = "them";
  ASSERT_OK_AND_ASSIGN(Json their_write, backing_->Update(Svc(), theirs));
  obj["metadata"]["labels"]["by"] = "us";
  EXPECT_ERROR_CODE(s->Update(Svc(), obj), Code::kAborted);
  const uint64_t live = s->read_stats().live;
  ASSERT_OK_AND_ASSIGN(got, s->Get(Svc(), "default", "a"));
  EXPECT_EQ(s->read_stats().live, live + 1);
  EXPECT_EQ(GetString(got, "metadata.resourceVersion"),
            GetString(their_write, "metadata.resourceVersion"));
  EXPECT_EQ(GetString(got, "metadata.labels.by"), "them");
}

TEST_F(RestStoreTest, ReadLiveListsGoToTheServer) {
  RestStoreOptions o = CachedServices();
  o.read_live = [](const api::ResourceInfo&, const store::ListOptions& lo) {
    return lo.label_selector.find("claim-uid") != std::string::npos;
  };
  auto s = Open(Config(), o);
  ASSERT_TRUE(s->WaitCachesSynced(std::chrono::seconds(5)));
  // Written behind the cache's back and read at once: only the server can know yet.
  ASSERT_OK(backing_->Create(Svc(), Service("a", {{"claim-uid", "u1"}})));
  const RestReadStats before = s->read_stats();
  store::ListOptions lo;
  lo.label_selector = "claim-uid=u1";
  ASSERT_OK_AND_ASSIGN(store::ListResult listed, s->List(Svc(), "default", lo));
  EXPECT_EQ(listed.items.size(), 1u);
  EXPECT_EQ(s->read_stats().live, before.live + 1);
  EXPECT_EQ(s->read_stats().cache, before.cache);
  // Other selectors are the cache's.
  ASSERT_OK(s->List(Svc(), "default", {}));
  EXPECT_EQ(s->read_stats().cache, before.cache + 1);
}

TEST_F(RestStoreTest, ACacheThatHasNotListedNeverAnswers) {
  // A kind the server does not serve: its cache can never list, so it is never synced; reads of
  // it go to the server after sync_wait (which says 404), and CachesSynced (readyz) stays false.
  static const api::ResourceInfo kWidgets{.group = "example.com",
                                          .version = "v1",
                                          .kind = "Widget",
                                          .plural = "widgets",
                                          .singular = "widget"};
  RestStoreOptions o = CachedServices();
  o.cached.push_back(&kWidgets);
  o.sync_wait = std::chrono::milliseconds(100);
  auto s = Open(Config(), o);
  EXPECT_FALSE(s->WaitCachesSynced(std::chrono::milliseconds(300)));
  EXPECT_FALSE(s->CachesSynced());
  auto got = s->Get(kWidgets, "default", "w");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Code::kNotFound);
  EXPECT_EQ(s->read_stats().fallback, 1u);
  EXPECT_EQ(s->read_stats().cache, 0u);
  // The synced kind answers meanwhile.
  ASSERT_OK(s->Get(api::NamespaceResource(), "", "default"));
  EXPECT_ERROR_CODE(s->Get(Svc(), "default", "nothing"), Code::kNotFound);
  EXPECT_EQ(s->read_stats().cache, 1u);
}

TEST_F(RestStoreTest, AWatchOfACachedKindIsServedFromTheCache) {
  ASSERT_OK(backing_->Create(Svc(), Service("before")));
  auto s = Open(Config(), CachedServices());
  ASSERT_OK_AND_ASSIGN(auto w, s->Watch(Svc(), "", {}));
  ASSERT_OK(backing_->Create(Svc(), Service("during")));
  ASSERT_OK(backing_->Delete(Svc(), "default", "before"));
  auto evs = Take(*w, 3);
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].type, store::EventType::kAdded);
  EXPECT_EQ(GetString(evs[0].object, "metadata.name"), "before");
  EXPECT_EQ(evs[1].type, store::EventType::kAdded);
  EXPECT_EQ(evs[2].type, store::EventType::kDeleted);
  // The cache applied each event before handing it on: a read in the handler sees it.
  EXPECT_ERROR_CODE(s->Get(Svc(), "default", "before"), Code::kNotFound);
  // The cache's list and its watch stream; nothing of the subscriber's own.
  EXPECT_EQ(s->transport().requests(), 2u);
}

TEST_F(RestStoreTest, ACacheRelistsAfterGoneAndTellsItsWatchersWhatChanged) {
  TearDown();
  store::ObjectStoreOptions so;
  so.watch_log_capacity = 4;  // the server keeps only the last four events
  StartServer({}, so);
  ASSERT_OK(backing_->Create(Svc(), Service("kept")));
  ASSERT_OK(backing_->Create(Svc(), Service("removed")));
  auto s = Open(Config(), CachedServices());
  ASSERT_OK_AND_ASSIGN(auto w, s->Watch(Svc(), "", {}));
  ASSERT_EQ(Take(*w, 2).size(), 2u);
  // The server goes away; meanwhile more changes than it retains: the watch resumes at a
  // revision the server has forgotten -> 410 Gone -> the cache lists again.
  const uint16_t port = front_->port();
  front_->Stop();
  ASSERT_OK(backing_->Delete(Svc(), "default", "removed"));
  for (int i = 0; i < 6; ++i) ASSERT_OK(backing_->Create(Svc(), Service("n" + std::to_string(i))));
  ASSERT_OK_AND_ASSIGN(front_,
                       apiserver::TlsFront::Start("127.0.0.1", port, server_->port(), cert_));
  auto evs = Take(*w, 7);
  ASSERT_EQ(evs.size(), 7u);
  std::set<std::string> added, deleted;
  for (const auto& ev : evs)
    (ev.type == store::EventType::kDeleted ? deleted : added)
        .insert(GetString(ev.object, "metadata.name"));
  EXPECT_EQ(deleted, (std::set<std::string>{"removed"}));
  EXPECT_EQ(added.size(), 6u);
  EXPECT_FALSE(added.count("kept")) << "an unchanged object is not re-announced";
  ASSERT_OK_AND_ASSIGN(store::ListResult all, s->List(Svc(), "default", {}));
  EXPECT_EQ(all.items.size(), 7u);
}

TEST(TransportTest, RetriesOverloadAndRateLimits) {
  std::atomic<int> calls{0};
  http::ServerOptions ho;
  auto server = http::Server::Start(ho, [&](http::Request& req) {
    int n = calls.fetch_add(1);
    if (req.method == "POST" && n == 0) {
      http::Response r = http::Response::Json(429, {{"kind", "Status"}, {"code", 429}});
      r.headers.Set("Retry-After", "0");
      return r;
    }
    if (n < 2) return http::Response::Json(503, {{"kind", "Status"}, {"code", 503}});
    if (req.path == "/boom") return http::Response::Json(500, {{"kind", "Status"}});
    return http::Response::Json(200, {{"ok", true}});
  });
  ASSERT_TRUE(server) << server.error().message;
  RestConfig rc;
  rc.scheme = "http";
  rc.host = "127.0.0.1";
  rc.port = (*server)->port();
  TransportOptions to;
  to.base_backoff = std::chrono::milliseconds(1);
  to.qps = 0;
  ASSERT_OK_AND_ASSIGN(auto t, Transport::Create(rc, to));
  ASSERT_OK_AND_ASSIGN(http::ClientResponse r, t->Do("GET", "/x"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(t->retries(), 2u);
  // A 500 is retried for a GET only: a POST may have been applied.
  ASSERT_OK_AND_ASSIGN(http::ClientResponse boom, t->Do("POST", "/boom", "{}"));
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(calls.load(), 4);

  // 20 qps, burst 2: ten requests need about (10 - 2) / 20 s.
  TransportOptions limited;
  limited.qps = 20;
  limited.burst = 2;
  ASSERT_OK_AND_ASSIGN(auto slow, Transport::Create(rc, limited));
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) ASSERT_OK(slow->Do("GET", "/x"));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(350));
  EXPECT_LT(took, std::chrono::seconds(3));
  (*server)->Stop();
}

}  // namespace
}  // namespace asb::kube
