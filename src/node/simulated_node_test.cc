// A simulated node (simulated_node.h, runtime/simulated): its pods become Running and Ready
// without anything running or being probed, say that they are simulated, and go away on delete;
// a node never mixes simulated and real sandboxes, at start or across restarts on one store.
#include "node/simulated_node.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "node/node_agent.h"
#include "runtime/fake_runtime.h"
#include "runtime/simulated/simulated_runtime.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::node {
namespace {

using asb::testing::WaitFor;
using std::chrono::milliseconds;

class OneImage final : public image::ImageResolver {
 public:
  Result<image::ResolvedImage> Resolve(const std::string&) override {
    image::ResolvedImage img;
    img.rootfs.lower_dir = "/images/python";
    img.entrypoint = {"/usr/local/bin/asb-agent"};
    img.image_id = "sha256:python";
    return img;
  }
};

class SimulatedNodeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(store_, store::MemoryStore::Open()); }
  void TearDown() override {
    if (agent_) agent_->Stop();
  }

  Status StartAgent(std::map<std::string, runtime::Runtime*> runtimes) {
    NodeOptions o;
    o.node_name = "node-1";
    o.exit_check_interval = milliseconds(5);
    agent_ = std::make_unique<NodeAgent>(*store_, std::move(runtimes), images_, o);
    return agent_->Start();
  }
  Status StartSimulated() { return StartAgent({{"native", &sim_}, {"gvisor", &sim_}}); }

  Json Create(const std::string& name, const std::string& runtime_class = "") {
    Json ctr = {{"name", "main"},
                {"image", "python-runtime"},
                // A real probe of this port would fail: the simulated sandbox has nothing there.
                {"readinessProbe", {{"httpGet", {{"path", "/"}, {"port", 8888}}}}}};
    Json pod = {{"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"containers", Json::array({ctr})}}}};
    if (!runtime_class.empty()) pod["spec"]["runtimeClassName"] = runtime_class;
    auto r = store_->Create(api::PodResource(), pod);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? *r : Json();
  }
  Json Get(const std::string& name) {
    auto r = store_->Get(api::PodResource(), "default", name);
    return r ? *r : Json();
  }
  bool Ready(const std::string& name) {
    const Json pod = Get(name);
    const Json* conds = Find(pod, "status.conditions");
    if (conds == nullptr) return false;
    for (const Json& c : *conds)
      if (c["type"] == "Ready") return c["status"] == "True";
    return false;
  }

  std::unique_ptr<store::MemoryStore> store_;
  OneImage images_;
  runtime::SimulatedRuntime sim_;
  std::unique_ptr<NodeAgent> agent_;
};

TEST_F(SimulatedNodeTest, PodsAreReadyWithoutProbingAndSaySo) {
  ASSERT_TRUE(StartSimulated());
  Create("p1");
  Create("p2", "gvisor");  // every class maps to the simulation
  ASSERT_TRUE(WaitFor([&] { return Ready("p1") && Ready("p2"); }, std::chrono::seconds(5)));
  for (const char* name : {"p1", "p2"}) {
    Json pod = Get(name);
    EXPECT_EQ(GetString(pod, "status.phase"), "Running");
    EXPECT_EQ(GetString(pod, "spec.nodeName"), "node-1");
    EXPECT_TRUE(IsMarkedSimulated(pod)) << pod.dump();
    const Json& cs = (*Find(pod, "status.containerStatuses"))[0];
    EXPECT_EQ(GetString(cs, "containerID").rfind("simulated://", 0), 0u) << cs.dump();
  }
  EXPECT_EQ(sim_.size(), 2u);
}

TEST_F(SimulatedNodeTest, DeletingAPodRemovesItsRecord) {
  ASSERT_TRUE(StartSimulated());
  Create("p1");
  ASSERT_TRUE(WaitFor([&] { return Ready("p1"); }, std::chrono::seconds(5)));
  ASSERT_TRUE(store_->Delete(api::PodResource(), "default", "p1", {}));
  ASSERT_TRUE(WaitFor(
      [&] {
        return !store_->Get(api::PodResource(), "default", "p1").has_value() && sim_.size() == 0;
      },
      std::chrono::seconds(5)));
}

TEST_F(SimulatedNodeTest, RefusesToMixSimulatedAndRealRuntimes) {
  runtime::FakeRuntime real("native");
  auto st = StartAgent({{"native", &real}, {"gvisor", &sim_}});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
  EXPECT_NE(st.error().message.find("never both"), std::string::npos) << st.error().message;
}

// One store, one node name: pods a real node ran keep a simulation away, and pods a simulation
// "ran" keep a real node away, so neither mistakes the other's pods for its own.
TEST_F(SimulatedNodeTest, RefusesAStoreWhosePodsRanInTheOtherMode) {
  runtime::FakeRuntime real("native");
  ASSERT_TRUE(StartAgent({{"native", &real}}));
  Create("real-pod");
  ASSERT_TRUE(WaitFor(
      [&] {
        const Json pod = Get("real-pod");
        const Json* cs = Find(pod, "status.containerStatuses");
        return cs != nullptr && cs->is_array() && !cs->empty() &&
               !GetString((*cs)[0], "containerID").empty();
      },
      std::chrono::seconds(5)));
  agent_->Stop();
  auto st = StartSimulated();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kFailedPrecondition);
  EXPECT_NE(st.error().message.find("default/real-pod"), std::string::npos) << st.error().message;

  ASSERT_TRUE(store_->Delete(api::PodResource(), "default", "real-pod", {}));
  Json finalized = Get("real-pod");  // the stopped real node can't remove its finalizer
  if (!finalized.is_null()) {
    finalized["metadata"]["finalizers"] = Json::array();
    ASSERT_TRUE(store_->Update(api::PodResource(), finalized));
  }
  ASSERT_TRUE(StartSimulated());
  Create("sim-pod");
  ASSERT_TRUE(WaitFor([&] { return Ready("sim-pod"); }, std::chrono::seconds(5)));
  agent_->Stop();
  st = StartAgent({{"native", &real}});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kFailedPrecondition);
  EXPECT_NE(st.error().message.find("default/sim-pod"), std::string::npos) << st.error().message;
}

TEST(SimulatedNodeModeTest, ChecksOnlyPodsOfThisNode) {
  Json other = {
      {"metadata", {{"name", "x"}, {"namespace", "default"}}},
      {"spec", {{"nodeName", "node-2"}}},
      {"status", {{"containerStatuses", Json::array({{{"containerID", "native://a"}}})}}}};
  EXPECT_TRUE(CheckPodsMatchMode({other}, "node-1", /*simulated=*/true));
  EXPECT_FALSE(CheckPodsMatchMode({other}, "node-2", /*simulated=*/true));
  Json mirror = other;  // asbd's own component, shown as a pod: not run by the node
  mirror["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "asbd"}};
  EXPECT_TRUE(CheckPodsMatchMode({mirror}, "node-2", /*simulated=*/true));
  MarkSimulated(other);
  EXPECT_TRUE(IsMarkedSimulated(other));
  EXPECT_FALSE(CheckPodsMatchMode({other}, "node-2", /*simulated=*/false));
}

}  // namespace
}  // namespace asb::node
