// The node agent with the real parts: SqliteStore, NativeRuntime (asb-init), the built-in
// python-runtime image and the static asb-agent. A pod reaches Ready through its readiness
// probe, answers GET / through DialPod, and deleting it leaves nothing behind.
#include <gtest/gtest.h>

#include <filesystem>

#include "api/resource.h"
#include "base/file_util.h"
#include "http/client.h"
#include "image/image_store.h"
#include "node/node_agent.h"
#include "runtime/native/native_runtime.h"
#include "store/sqlite_store.h"
#include "tests/testing/test_util.h"

namespace asb::node {
namespace {

using asb::testing::BuiltBinary;
using asb::testing::TempDir;
using asb::testing::WaitFor;
using std::chrono::milliseconds;

class NodeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!asb::testing::IsRoot()) GTEST_SKIP() << "the native runtime needs root";
    std::string init = BuiltBinary("asb-init");
    std::string agent = BuiltBinary("asb-agent");
    ASSERT_FALSE(init.empty()) << "build asb-init first";
    ASSERT_FALSE(agent.empty()) << "build asb-agent first";
    ASSERT_OK_AND_ASSIGN(store_, store::SqliteStore::Open(tmp_.Sub("store")));
    runtime::native::NativeRuntimeOptions ro;
    ro.state_dir = tmp_.Sub("state");
    ro.init_path = init;
    ASSERT_OK_AND_ASSIGN(native_, runtime::native::NativeRuntime::Create(ro));
    images_ = std::make_unique<image::ImageStore>(tmp_.Sub("state"),
                                                  image::ImageStoreOptions{.agent_path = agent});
    NodeOptions o;
    o.node_name = "node-it";
    agent_ = std::make_unique<NodeAgent>(
        *store_,
        std::map<std::string, runtime::Runtime*>{{"native", native_.get()}, {"gvisor", nullptr}},
        *images_, o);
    ASSERT_OK(agent_->Start());
  }

  void TearDown() override {
    if (agent_) agent_->Stop();
    if (native_) {
      auto ids = native_->List();
      if (ids) {
        for (const std::string& id : *ids) EXPECT_OK(native_->Stop(id, milliseconds(0)));
      }
    }
  }

  std::string Ready(const std::string& name) {
    auto pod = store_->Get(api::PodResource(), "default", name);
    if (!pod) return "";
    const Json* conds = Find(*pod, "status.conditions");
    if (conds == nullptr) return "";
    for (const Json& c : *conds) {
      if (c["type"] == "Ready") return c["status"].get<std::string>();
    }
    return "";
  }

  TempDir tmp_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<runtime::native::NativeRuntime> native_;
  std::unique_ptr<image::ImageStore> images_;
  std::unique_ptr<NodeAgent> agent_;
};

TEST_F(NodeIntegrationTest, PythonRuntimePodGetsReadyServesAndLeavesNothingBehind) {
  Json pod = {
      {"metadata", {{"name", "py"}, {"namespace", "default"}}},
      {"spec",
       {{"terminationGracePeriodSeconds", 2},
        {"containers",
         {{{"name", "python-runtime"},
           {"image", "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"},
           {"ports", {{{"containerPort", 8888}}}},
           {"readinessProbe", {{"httpGet", {{"path", "/"}, {"port", 8888}}}, {"periodSeconds", 1}}},
           {"resources", {{"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}}}}}}}}}};
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(Json created, store_->Create(api::PodResource(), pod));
  const std::string id = SandboxIdForUid(GetString(created, "metadata.uid"));
  ASSERT_TRUE(WaitFor([&] { return Ready("py") == "True"; }, std::chrono::seconds(30)))
      << store_->Get(api::PodResource(), "default", "py")->dump(2);
  const auto ready_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("pod create -> Ready: %lld ms\n", static_cast<long long>(ready_ms));

  ASSERT_OK_AND_ASSIGN(UniqueFd fd, agent_->DialPod("default", "py", 8888));
  http::Client client = http::Client::FromFd(std::move(fd));
  http::Request req;
  req.method = "GET";
  req.target = "/";
  ASSERT_OK_AND_ASSIGN(http::ClientResponse resp, client.Do(req));
  EXPECT_EQ(resp.status, 200) << resp.body;

  const std::string dir = native_->SandboxDir(id);
  EXPECT_TRUE(PathExists(dir));
  ASSERT_OK(store_->Delete(api::PodResource(), "default", "py"));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = store_->Get(api::PodResource(), "default", "py");
        return !got && got.error().code == Code::kNotFound;
      },
      std::chrono::seconds(30)));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> left, native_->List());
  EXPECT_TRUE(left.empty());
  EXPECT_FALSE(PathExists(dir)) << "sandbox state dir left behind";
  if (auto cg = native_->CgroupOf(id)) {
    for (const std::string& d : cg->dirs()) EXPECT_FALSE(PathExists(d)) << "cgroup left: " << d;
  }
  ASSERT_OK_AND_ASSIGN(std::string mounts, ReadFile("/proc/self/mountinfo"));
  EXPECT_EQ(mounts.find(id), std::string::npos) << "mount left behind";
  EXPECT_EQ(agent_->DialPod("default", "py", 8888).error().code, Code::kNotFound);
}

}  // namespace
}  // namespace asb::node
