#include "node/node_agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "api/resource.h"
#include "base/file_util.h"
#include "base/strings.h"
#include "http/client.h"
#include "http/server.h"
#include "runtime/fake_runtime.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::node {
namespace {

using std::chrono::milliseconds;

using asb::testing::WaitFor;
using runtime::FakeRuntime;

class FakeImages final : public image::ImageResolver {
 public:
  Result<image::ResolvedImage> Resolve(const std::string& ref) override {
    std::lock_guard l(mu_);
    auto it = images_.find(ref);
    if (it == images_.end()) {
      return MakeError(Code::kNotFound, "image \"" + ref + "\" not found in the local store");
    }
    return it->second;
  }
  void Add(const std::string& ref, image::ResolvedImage image) {
    std::lock_guard l(mu_);
    images_[ref] = std::move(image);
  }

 private:
  std::mutex mu_;
  std::map<std::string, image::ResolvedImage> images_;
};

class NodeAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, store::MemoryStore::Open());
    image::ResolvedImage img;
    img.rootfs.lower_dir = "/images/python";
    img.entrypoint = {"/usr/local/bin/asb-agent"};
    img.cmd = {"--port=8888"};
    img.env = {"PATH=/usr/bin:/bin"};
    img.image_id = "sha256:python";
    images_.Add("python-runtime", img);
  }
  void TearDown() override {
    if (agent_) agent_->Stop();
    agent_.reset();
    store_.reset();
  }

  NodeOptions Options() {
    NodeOptions o;
    o.node_name = "node-1";
    o.backoff_base = milliseconds(20);
    o.backoff_cap = milliseconds(80);
    o.exit_check_interval = milliseconds(5);
    return o;
  }

  void StartAgent(std::map<std::string, runtime::Runtime*> runtimes = {},
                  std::optional<NodeOptions> options = std::nullopt) {
    if (runtimes.empty()) runtimes = {{"native", &native_}, {"gvisor", &gvisor_}};
    agent_ = std::make_unique<NodeAgent>(*store_, runtimes, images_, options.value_or(Options()));
    auto st = agent_->Start();
    ASSERT_TRUE(st.has_value()) << st.error().message;
  }

  Json MakePod(const std::string& name, Json spec_extra = Json::object(),
               Json ctr_extra = Json::object()) {
    Json c = {{"name", "main"}, {"image", "python-runtime"}};
    for (auto& [k, v] : ctr_extra.items()) c[k] = v;
    Json pod = {{"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"containers", Json::array({c})}}}};
    for (auto& [k, v] : spec_extra.items()) pod["spec"][k] = v;
    return pod;
  }

  Json Create(const Json& pod) {
    auto r = store_->Create(api::PodResource(), pod);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? *r : Json();
  }

  Json Get(const std::string& name) {
    auto r = store_->Get(api::PodResource(), "default", name);
    return r ? *r : Json();
  }
  std::string Phase(const std::string& name) { return GetString(Get(name), "status.phase"); }
  std::string Condition(const std::string& name, const std::string& type) {
    Json pod = Get(name);
    const Json* conds = Find(pod, "status.conditions");
    if (conds == nullptr) return "";
    for (const Json& c : *conds) {
      if (c["type"] == type) return c["status"].get<std::string>();
    }
    return "";
  }
  Json ContainerStatus(const std::string& name) {
    Json pod = Get(name);
    const Json* cs = Find(pod, "status.containerStatuses");
    return cs && cs->is_array() && !cs->empty() ? (*cs)[0] : Json();
  }
  static std::string Id(const Json& pod) { return SandboxIdForUid(GetString(pod, "metadata.uid")); }

  std::unique_ptr<store::MemoryStore> store_;
  FakeRuntime native_{"native"};
  FakeRuntime gvisor_{"gvisor"};
  FakeImages images_;
  std::unique_ptr<NodeAgent> agent_;
};

TEST_F(NodeAgentTest, BindsUnboundPodsRunsThemAndIgnoresOtherNodes) {
  StartAgent();
  Json other = Create(MakePod("elsewhere", {{"nodeName", "node-2"}}));
  Json pod = Create(MakePod("p1"));
  ASSERT_TRUE(WaitFor([&] { return Condition("p1", "Ready") == "True"; }));
  Json got = Get("p1");
  EXPECT_EQ(GetString(got, "spec.nodeName"), "node-1");
  EXPECT_EQ(Phase("p1"), "Running");
  EXPECT_EQ(Condition("p1", "PodScheduled"), "True");
  EXPECT_EQ(Condition("p1", "Initialized"), "True");
  EXPECT_EQ(Condition("p1", "ContainersReady"), "True");
  EXPECT_EQ(got["metadata"]["finalizers"], Json::array({kSandboxFinalizer}));
  EXPECT_EQ(GetString(got, "status.hostIP"), "127.0.0.1");
  EXPECT_FALSE(Find(got, "status.podIP"));
  EXPECT_EQ(GetString(got, "status.qosClass"), "BestEffort");
  EXPECT_FALSE(GetString(got, "status.startTime").empty());
  Json cs = ContainerStatus("p1");
  EXPECT_EQ(cs["name"], "main");
  EXPECT_EQ(cs["image"], "python-runtime");
  EXPECT_EQ(cs["imageID"], "sha256:python");
  EXPECT_EQ(cs["restartCount"], 0);
  EXPECT_EQ(cs["started"], true);
  EXPECT_TRUE(cs["state"].contains("running"));

  const std::string id = Id(pod);
  ASSERT_TRUE(native_.Has(id));
  runtime::SandboxSpec spec = *native_.SpecOf(id);
  EXPECT_EQ(spec.hostname, "p1");
  EXPECT_EQ(spec.rootfs.lower_dir, "/images/python");
  EXPECT_EQ(spec.process.argv,
            (std::vector<std::string>{"/usr/local/bin/asb-agent", "--port=8888"}));
  EXPECT_EQ(spec.labels.at(kLabelNamespace), "default");
  EXPECT_EQ(spec.labels.at(kLabelName), "p1");
  EXPECT_EQ(spec.labels.at(kLabelUid), GetString(pod, "metadata.uid"));

  // The pod bound to another node was left alone.
  EXPECT_FALSE(native_.Has(Id(other)));
  EXPECT_FALSE(gvisor_.Has(Id(other)));
  EXPECT_FALSE(Find(Get("elsewhere"), "status.containerStatuses"));
  EXPECT_FALSE(Find(Get("elsewhere"), "metadata.finalizers"));
}

TEST_F(NodeAgentTest, CommandArgsEnvUserAndResourcesReachTheSandbox) {
  StartAgent();
  Json pod =
      Create(MakePod("cmd", {{"securityContext", {{"runAsUser", 1000}, {"runAsGroup", 1000}}}},
                     {{"args", {"--port=$(PORT)"}},
                      {"env", {{{"name", "PORT"}, {"value", "9999"}}}},
                      {"workingDir", "/work"},
                      {"resources",
                       {{"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}},
                        {"requests", {{"ephemeral-storage", "1G"}}}}}}));
  ASSERT_TRUE(WaitFor([&] { return native_.Has(Id(pod)); }));
  runtime::SandboxSpec spec = *native_.SpecOf(Id(pod));
  EXPECT_EQ(spec.process.argv,
            (std::vector<std::string>{"/usr/local/bin/asb-agent", "--port=9999"}));
  EXPECT_EQ(spec.process.cwd, "/work");
  EXPECT_EQ(spec.process.uid, 1000u);
  EXPECT_EQ(spec.process.gid, 1000u);
  EXPECT_NE(std::find(spec.process.env.begin(), spec.process.env.end(), "PORT=9999"),
            spec.process.env.end());
  EXPECT_EQ(spec.limits.cpu_millis, 500);
  EXPECT_EQ(spec.limits.memory_bytes, 256LL << 20);
  EXPECT_EQ(spec.limits.ephemeral_storage_bytes, 1000000000);
  ASSERT_TRUE(WaitFor([&] { return GetString(Get("cmd"), "status.qosClass") == "Guaranteed"; }));
}

// A warm-pool member (the label the controllers copy from its Sandbox) starts idle-class; the
// sync that sees its claim (the label removed) makes it normal with one write, and no later
// sync writes again. A pod that never was a member starts normal and is never written.
TEST_F(NodeAgentTest, PoolMemberStartsIdleClassAndItsClaimMakesItNormalOnce) {
  StartAgent();
  Json member = MakePod("member");
  member["metadata"]["labels"] = {{"agents.x-k8s.io/warm-pool-sandbox", "abc123"}};
  member = Create(member);
  Json plain = Create(MakePod("plain"));
  ASSERT_TRUE(WaitFor([&] { return Phase("member") == "Running" && Phase("plain") == "Running"; }));
  EXPECT_TRUE(native_.SpecOf(Id(member))->limits.cpu_idle);
  EXPECT_FALSE(native_.SpecOf(Id(plain))->limits.cpu_idle);

  // Syncs of the unclaimed member (an event, and the exit check every 5 ms) leave it idle-class.
  Json pod = Get("member");
  pod["metadata"]["annotations"] = {{"touch", "1"}};
  ASSERT_TRUE(store_->Update(api::PodResource(), pod).has_value());
  EXPECT_EQ(native_.CpuIdleWrites(Id(member)), 0);

  // The claim adopts it: the pool label goes.
  pod = Get("member");
  pod["metadata"]["labels"].erase("agents.x-k8s.io/warm-pool-sandbox");
  ASSERT_TRUE(store_->Update(api::PodResource(), pod).has_value());
  ASSERT_TRUE(WaitFor([&] { return native_.CpuIdleWrites(Id(member)) == 1; }));
  EXPECT_FALSE(native_.SpecOf(Id(member))->limits.cpu_idle);
  pod = Get("member");
  pod["metadata"]["annotations"] = {{"touch", "2"}};
  ASSERT_TRUE(store_->Update(api::PodResource(), pod).has_value());

  // After a restart: a member re-adopted as it is stays idle-class; one claimed while the node
  // was down is made normal at its first sync.
  Json member2 = MakePod("member2");
  member2["metadata"]["labels"] = {{"agents.x-k8s.io/warm-pool-sandbox", "abc123"}};
  member2 = Create(member2);
  Json member3 = MakePod("member3");
  member3["metadata"]["labels"] = {{"agents.x-k8s.io/warm-pool-sandbox", "abc123"}};
  member3 = Create(member3);
  ASSERT_TRUE(
      WaitFor([&] { return Phase("member2") == "Running" && Phase("member3") == "Running"; }));
  // Many syncs later (exit checks every 5 ms): still the one write.
  EXPECT_EQ(native_.CpuIdleWrites(Id(member)), 1);
  EXPECT_EQ(native_.CpuIdleWrites(Id(plain)), 0);
  EXPECT_EQ(native_.CpuIdleWrites(Id(member2)), 0);
  agent_->Stop();
  agent_.reset();
  pod = Get("member3");
  pod["metadata"]["labels"].erase("agents.x-k8s.io/warm-pool-sandbox");
  ASSERT_TRUE(store_->Update(api::PodResource(), pod).has_value());
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return native_.CpuIdleWrites(Id(member3)) == 1; }));
  EXPECT_FALSE(native_.SpecOf(Id(member3))->limits.cpu_idle);
  EXPECT_EQ(native_.StartCount(Id(member3)), 1);  // re-adopted, not restarted
  EXPECT_EQ(native_.CpuIdleWrites(Id(member2)), 0);
  EXPECT_TRUE(native_.SpecOf(Id(member2))->limits.cpu_idle);
}

TEST_F(NodeAgentTest, RuntimeClassSelectsRuntimeAndUnknownClassFails) {
  StartAgent({{"native", &native_}, {"gvisor", &gvisor_}});
  Json g = Create(MakePod("g", {{"runtimeClassName", "gvisor"}}));
  Json n = Create(MakePod("n", {{"runtimeClassName", "native"}}));
  Json k = Create(MakePod("k", {{"runtimeClassName", "kata"}}));
  ASSERT_TRUE(WaitFor([&] { return Phase("g") == "Running" && Phase("n") == "Running"; }));
  EXPECT_TRUE(gvisor_.Has(Id(g)));
  EXPECT_FALSE(native_.Has(Id(g)));
  EXPECT_TRUE(native_.Has(Id(n)));
  ASSERT_TRUE(WaitFor([&] { return Phase("k") == "Failed"; }));
  Json kp = Get("k");
  EXPECT_EQ(GetString(kp, "status.reason"), "RuntimeClassNotFound");
  EXPECT_EQ(GetString(kp, "status.message"),
            "runtime class \"kata\" is not available on this node");
  EXPECT_FALSE(native_.Has(Id(k)));
  EXPECT_FALSE(gvisor_.Has(Id(k)));
  EXPECT_EQ(Condition("k", "Ready"), "False");
}

TEST_F(NodeAgentTest, UnavailableRuntimeNeverFallsBack) {
  StartAgent({{"native", &native_}, {"gvisor", nullptr}});
  Json g = Create(MakePod("g", {{"runtimeClassName", "gvisor"}}));
  ASSERT_TRUE(WaitFor([&] { return Phase("g") == "Failed"; }));
  EXPECT_EQ(GetString(Get("g"), "status.reason"), "RuntimeClassNotFound");
  EXPECT_FALSE(native_.Has(Id(g)));
}

TEST_F(NodeAgentTest, UnsupportedSpecFailsWithReason) {
  StartAgent();
  Json two = MakePod("two");
  two["spec"]["containers"].push_back({{"name", "side"}, {"image", "python-runtime"}});
  Create(two);
  ASSERT_TRUE(WaitFor([&] { return Phase("two") == "Failed"; }));
  EXPECT_EQ(GetString(Get("two"), "status.reason"), "MultipleContainersUnsupported");
  Create(MakePod("vf", {}, {{"env", {{{"name", "X"}, {"valueFrom", {{"fieldRef", {}}}}}}}}));
  ASSERT_TRUE(WaitFor([&] { return Phase("vf") == "Failed"; }));
  EXPECT_NE(GetString(Get("vf"), "status.message").find("valueFrom"), std::string::npos);
}

TEST_F(NodeAgentTest, ImagePullFailureIsErrImagePullThenRecovers) {
  StartAgent();
  Json pod = Create(MakePod("img", {}, {{"image", "registry.example/missing:1"}}));
  ASSERT_TRUE(WaitFor(
      [&] { return GetString(ContainerStatus("img"), "state.waiting.reason") == "ErrImagePull"; }));
  EXPECT_EQ(Phase("img"), "Pending");
  EXPECT_NE(GetString(ContainerStatus("img"), "state.waiting.message").find("not found"),
            std::string::npos);
  // While the retry waits, the kubelet's ImagePullBackOff, still carrying the pull's error.
  ASSERT_TRUE(WaitFor([&] {
    return GetString(ContainerStatus("img"), "state.waiting.reason") == "ImagePullBackOff";
  }));
  EXPECT_NE(GetString(ContainerStatus("img"), "state.waiting.message")
                .find("Back-off pulling image \"registry.example/missing:1\": "),
            std::string::npos);
  EXPECT_FALSE(native_.Has(Id(pod)));
  // The image shows up: the back-off retry starts the pod.
  images_.Add("registry.example/missing:1", image::ResolvedImage{.entrypoint = {"/bin/app"}});
  ASSERT_TRUE(WaitFor([&] { return Phase("img") == "Running"; }));
  EXPECT_TRUE(native_.Has(Id(pod)));
}

TEST_F(NodeAgentTest, StartFailureRetriesWithBackoff) {
  native_.FailNextStart(Error{Code::kInternal, "pivot_root: EPERM"});
  StartAgent();
  Json pod = Create(MakePod("sf"));
  ASSERT_TRUE(WaitFor([&] { return Phase("sf") == "Running"; }));
  EXPECT_EQ(native_.StartCount(Id(pod)), 1);
}

// A real HTTP server standing in for the agent inside the sandbox.
class ProbeTarget {
 public:
  ProbeTarget() {
    auto s = http::Server::Start({}, [this](http::Request& req) {
      if (req.path == "/ready") return http::Response::Text(code_.load(), "probe");
      return http::Response::Text(200, "hello from the sandbox");
    });
    EXPECT_TRUE(s.has_value());
    server_ = std::move(*s);
  }
  uint16_t port() const { return server_->port(); }
  void Set(int code) { code_ = code; }

 private:
  std::atomic<int> code_{500};
  std::unique_ptr<http::Server> server_;
};

TEST_F(NodeAgentTest, ReadinessProbeDrivesReady) {
  ProbeTarget target;
  native_.ForwardPort(8888, target.port());
  StartAgent();
  Create(MakePod("probed", {},
                 {{"ports", {{{"name", "http"}, {"containerPort", 8888}}}},
                  {"readinessProbe",
                   {{"httpGet", {{"path", "/ready"}, {"port", "http"}}},
                    {"periodSeconds", 1},
                    {"failureThreshold", 1}}}}));
  ASSERT_TRUE(WaitFor([&] { return Phase("probed") == "Running"; }));
  EXPECT_EQ(Condition("probed", "Ready"), "False");
  EXPECT_EQ(ContainerStatus("probed")["ready"], false);

  auto t0 = std::chrono::steady_clock::now();
  target.Set(200);
  ASSERT_TRUE(WaitFor([&] { return Condition("probed", "Ready") == "True"; }));
  // Fast probing before the first success: well under periodSeconds.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(900));
  EXPECT_EQ(ContainerStatus("probed")["ready"], true);

  target.Set(503);
  ASSERT_TRUE(WaitFor([&] { return Condition("probed", "Ready") == "False"; }));
  target.Set(302);  // 200..399 is success
  ASSERT_TRUE(WaitFor([&] { return Condition("probed", "Ready") == "True"; }));
}

TEST_F(NodeAgentTest, TcpAndExecProbes) {
  ProbeTarget target;
  native_.ForwardPort(7000, target.port());
  std::atomic<int> exec_code{1};
  native_.SetExecHandler([&](const runtime::ProcessSpec& p) {
    EXPECT_EQ(p.argv, (std::vector<std::string>{"cat", "/tmp/ready"}));
    return runtime::ExecResult{exec_code.load(), "", ""};
  });
  StartAgent();
  Create(MakePod("tcp", {}, {{"readinessProbe", {{"tcpSocket", {{"port", 7000}}}}}}));
  Create(MakePod("tcp-closed", {}, {{"readinessProbe", {{"tcpSocket", {{"port", 7001}}}}}}));
  Create(
      MakePod("exec", {}, {{"readinessProbe", {{"exec", {{"command", {"cat", "/tmp/ready"}}}}}}}));
  ASSERT_TRUE(WaitFor([&] { return Condition("tcp", "Ready") == "True"; }));
  ASSERT_TRUE(
      WaitFor([&] { return Phase("exec") == "Running" && Phase("tcp-closed") == "Running"; }));
  EXPECT_EQ(Condition("exec", "Ready"), "False");
  EXPECT_EQ(Condition("tcp-closed", "Ready"), "False");
  exec_code = 0;
  ASSERT_TRUE(WaitFor([&] { return Condition("exec", "Ready") == "True"; }));
  EXPECT_EQ(Condition("tcp-closed", "Ready"), "False");
}

TEST_F(NodeAgentTest, RestartPolicyWithExitCodes) {
  StartAgent();
  Json never = Create(MakePod("never", {{"restartPolicy", "Never"}}));
  Json onfail_ok = Create(MakePod("onfail-ok", {{"restartPolicy", "OnFailure"}}));
  Json onfail_bad = Create(MakePod("onfail-bad", {{"restartPolicy", "OnFailure"}}));
  Json always = Create(MakePod("always"));
  for (const char* n : {"never", "onfail-ok", "onfail-bad", "always"}) {
    ASSERT_TRUE(WaitFor([&] { return Phase(n) == "Running"; })) << n;
  }
  native_.Exit(Id(never), 3);
  native_.Exit(Id(onfail_ok), 0);
  native_.Exit(Id(onfail_bad), 1);
  native_.Exit(Id(always), 0);

  ASSERT_TRUE(WaitFor([&] { return Phase("never") == "Failed"; }));
  Json t = ContainerStatus("never")["state"]["terminated"];
  EXPECT_EQ(t["exitCode"], 3);
  EXPECT_EQ(t["reason"], "Error");
  EXPECT_EQ(Condition("never", "Ready"), "False");
  EXPECT_FALSE(native_.Has(Id(never)));  // resources freed once it exited
  EXPECT_EQ(native_.StartCount(Id(never)), 1);

  ASSERT_TRUE(WaitFor([&] { return Phase("onfail-ok") == "Succeeded"; }));
  EXPECT_EQ(ContainerStatus("onfail-ok")["state"]["terminated"]["reason"], "Completed");

  for (const char* n : {"onfail-bad", "always"}) {
    ASSERT_TRUE(WaitFor([&] {
      Json cs = ContainerStatus(n);
      return cs["restartCount"] == 1 && cs["state"].contains("running");
    })) << n;
    EXPECT_EQ(Phase(n), "Running");
  }
  EXPECT_EQ(ContainerStatus("onfail-bad")["lastState"]["terminated"]["exitCode"], 1);
  EXPECT_EQ(ContainerStatus("always")["lastState"]["terminated"]["reason"], "Completed");
  EXPECT_EQ(native_.StartCount(Id(always)), 2);

  // OOM kill is reported as such.
  native_.Exit(Id(always), 137, 9, /*oom=*/true);
  ASSERT_TRUE(WaitFor([&] { return ContainerStatus("always")["restartCount"] == 2; }));
  EXPECT_EQ(ContainerStatus("always")["lastState"]["terminated"]["reason"], "OOMKilled");
}

TEST_F(NodeAgentTest, CrashLoopBacksOff) {
  NodeOptions o = Options();
  o.backoff_base = milliseconds(300);
  o.backoff_cap = milliseconds(300);
  StartAgent({}, o);
  Json pod = Create(MakePod("crash"));
  ASSERT_TRUE(WaitFor([&] { return Phase("crash") == "Running"; }));
  native_.Exit(Id(pod), 2);
  ASSERT_TRUE(WaitFor([&] {
    return GetString(ContainerStatus("crash"), "state.waiting.reason") == "CrashLoopBackOff";
  }));
  EXPECT_EQ(Phase("crash"), "Running");
  EXPECT_EQ(Condition("crash", "Ready"), "False");
  EXPECT_EQ(native_.StartCount(Id(pod)), 1);
  ASSERT_TRUE(WaitFor([&] { return native_.StartCount(Id(pod)) == 2; }));
}

// The kubelet-like events kubectl describe shows, in order, for a start, a crash and a delete.
TEST_F(NodeAgentTest, RecordsKubeletEventsAboutThePod) {
  NodeOptions o = Options();
  o.backoff_base = milliseconds(300);
  o.backoff_cap = milliseconds(300);
  StartAgent({}, o);
  Json pod = Create(MakePod("ev"));
  ASSERT_TRUE(WaitFor([&] { return Phase("ev") == "Running"; }));
  auto reasons = [&] {
    std::vector<std::string> out;
    auto list = store_->List(api::EventResource(), "default", {});
    EXPECT_TRUE(list.has_value());
    // Creation order: the store lists by name (random here), resourceVersions grow.
    std::sort(list->items.begin(), list->items.end(), [](const Json& a, const Json& b) {
      return std::stoll(GetString(a, "metadata.resourceVersion")) <
             std::stoll(GetString(b, "metadata.resourceVersion"));
    });
    for (const Json& e : list->items) {
      EXPECT_EQ(GetString(e, "involvedObject.uid"), GetString(pod, "metadata.uid"));
      EXPECT_EQ(GetString(e, "involvedObject.kind"), "Pod");
      out.push_back(GetString(e, "type") + "/" + GetString(e, "reason"));
    }
    return out;
  };
  std::vector<std::string> started = {"Normal/Scheduled", "Normal/Pulled", "Normal/Created",
                                      "Normal/Started"};
  EXPECT_EQ(reasons(), started);
  native_.Exit(Id(pod), 2);
  ASSERT_TRUE(WaitFor([&] { return reasons().size() == 5; }));
  EXPECT_EQ(reasons().back(), "Warning/BackOff");
  ASSERT_TRUE(WaitFor([&] { return native_.StartCount(Id(pod)) == 2; }));
  ASSERT_TRUE(WaitFor([&] { return Phase("ev") == "Running" && reasons().size() == 8; }));
  ASSERT_TRUE(store_->Delete(api::PodResource(), "default", "ev").has_value());
  // The Killing event is written before the finalizer goes; the GC then removes the events.
  ASSERT_TRUE(WaitFor([&] {
    return store_->Get(api::PodResource(), "default", "ev").error().code == Code::kNotFound;
  }));
}

TEST_F(NodeAgentTest, DeletionStopsSandboxThenRemovesFinalizer) {
  StartAgent();
  Json pod = Create(MakePod("del", {{"terminationGracePeriodSeconds", 7}}));
  ASSERT_TRUE(WaitFor([&] { return Phase("del") == "Running"; }));
  const std::string id = Id(pod);
  auto d = store_->Delete(api::PodResource(), "default", "del");
  ASSERT_TRUE(d.has_value()) << d.error().message;
  ASSERT_TRUE(WaitFor([&] {
    return store_->Get(api::PodResource(), "default", "del").error().code == Code::kNotFound;
  }));
  EXPECT_FALSE(native_.Has(id));
  std::vector<std::string> stopped = native_.Stopped();
  EXPECT_NE(std::find(stopped.begin(), stopped.end(), id), stopped.end());
  EXPECT_EQ(native_.LastGrace(), milliseconds(7000));
  EXPECT_EQ(agent_->DialPod("default", "del", 8888).error().code, Code::kNotFound);
}

TEST_F(NodeAgentTest, DialPod) {
  ProbeTarget target;
  target.Set(200);
  native_.ForwardPort(8888, target.port());
  StartAgent();
  EXPECT_EQ(agent_->DialPod("default", "nope", 8888).error().code, Code::kNotFound);
  Json pod = Create(MakePod("dial", {{"restartPolicy", "Never"}}));
  ASSERT_TRUE(WaitFor([&] { return Phase("dial") == "Running"; }));
  auto fd = agent_->DialPod("default", "dial", 8888);
  ASSERT_TRUE(fd.has_value()) << fd.error().message;
  http::Client client = http::Client::FromFd(std::move(*fd));
  http::Request req;
  req.method = "GET";
  req.target = "/";
  auto resp = client.Do(req);
  ASSERT_TRUE(resp.has_value()) << resp.error().message;
  EXPECT_EQ(resp->body, "hello from the sandbox");

  native_.Exit(Id(pod), 0);
  ASSERT_TRUE(WaitFor([&] { return Phase("dial") == "Succeeded"; }));
  EXPECT_EQ(agent_->DialPod("default", "dial", 8888).error().code, Code::kUnavailable);
}

TEST_F(NodeAgentTest, RestartRecoveryStopsOrphansReadoptsAndRestarts) {
  StartAgent();
  Json live = Create(MakePod("live"));
  Json dead = Create(MakePod("dead"));
  Json gone = Create(MakePod("gone"));
  Json done = Create(MakePod("done", {{"restartPolicy", "Never"}}));
  Json leaving = Create(MakePod("leaving"));
  for (const char* n : {"live", "dead", "gone", "done", "leaving"}) {
    ASSERT_TRUE(WaitFor([&] { return Phase(n) == "Running"; })) << n;
  }
  native_.Exit(Id(done), 0);
  ASSERT_TRUE(WaitFor([&] { return Phase("done") == "Succeeded"; }));
  agent_->Stop();
  agent_.reset();

  // While asbd was down: one sandbox died, one vanished (host reboot), one orphan appeared
  // (its pod was deleted for good), and a pod was deleted while we were away.
  native_.Exit(Id(dead), 1);
  ASSERT_TRUE(native_.Stop(Id(gone), milliseconds(0)).has_value());
  native_.Plant("orphan-0000", runtime::SandboxState::kRunning);
  gvisor_.Plant("orphan-gvisor", runtime::SandboxState::kExited);
  // The node's finalizer holds the deleted pod: it stays, deletionTimestamp set, until the node
  // has stopped its sandbox.
  ASSERT_TRUE(store_->Delete(api::PodResource(), "default", "leaving").has_value());
  ASSERT_FALSE(GetString(Get("leaving"), "metadata.deletionTimestamp").empty());
  ASSERT_TRUE(native_.Has(Id(leaving)));

  StartAgent();
  EXPECT_FALSE(native_.Has("orphan-0000"));
  EXPECT_FALSE(gvisor_.Has("orphan-gvisor"));
  EXPECT_EQ(native_.StartCount(Id(live)), 1);  // re-adopted, not restarted
  ASSERT_TRUE(WaitFor([&] {
    return ContainerStatus("dead")["restartCount"] == 1 && Phase("dead") == "Running" &&
           ContainerStatus("gone")["restartCount"] == 1 && Phase("gone") == "Running";
  }));
  EXPECT_EQ(native_.StartCount(Id(dead)), 2);
  EXPECT_EQ(native_.StartCount(Id(gone)), 2);
  EXPECT_EQ(ContainerStatus("live")["restartCount"], 0);
  EXPECT_EQ(Phase("live"), "Running");
  EXPECT_EQ(Condition("live", "Ready"), "True");
  EXPECT_EQ(Phase("done"), "Succeeded");
  EXPECT_EQ(native_.StartCount(Id(done)), 1);
  auto dial = agent_->DialPod("default", "live", 1);
  EXPECT_TRUE(dial.has_value() || dial.error().code != Code::kNotFound);
  // The pod deleted while we were away: sandbox stopped, finalizer removed, pod gone.
  ASSERT_TRUE(WaitFor([&] {
    return !native_.Has(Id(leaving)) && !store_->Get(api::PodResource(), "default", "leaving");
  }));

  // Deleting the re-adopted pod tears its sandbox down.
  ASSERT_TRUE(store_->Delete(api::PodResource(), "default", "live").has_value());
  ASSERT_TRUE(WaitFor([&] { return !native_.Has(Id(live)); }));
}

}  // namespace
}  // namespace asb::node
