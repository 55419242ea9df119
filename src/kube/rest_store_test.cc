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
