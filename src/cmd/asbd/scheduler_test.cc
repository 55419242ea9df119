// The scheduler role: its pure decisions (scheduler_fit.h) as tables, and the Scheduler binding
// real pods over the memory store (the store's own semantics: compare-and-set writes, watches).
#include "cmd/asbd/scheduler.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "cmd/asbd/scheduler_fit.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::asbd {
namespace {

Json Pod(const std::string& name, const std::string& cpu = "", const std::string& memory = "") {
  Json c = {{"name", "c"}, {"image", "python-runtime"}};
  if (!cpu.empty()) c["resources"]["requests"]["cpu"] = cpu;
  if (!memory.empty()) c["resources"]["requests"]["memory"] = memory;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"containers", Json::array({c})}}}};
}

Json Node(const std::string& name, bool ready = true, const std::string& cpu = "2") {
  return {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", name}}},
      {"spec", Json::object()},
      {"status",
       {{"allocatable", {{"cpu", cpu}, {"memory", "4Gi"}, {"pods", "110"}}},
        {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

Json Lease(const std::string& node, SystemTime renewed) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", node}, {"namespace", "kube-node-lease"}}},
          {"spec",
           {{"holderIdentity", node},
            {"leaseDurationSeconds", 40},
            {"renewTime", FormatRfc3339Micro(renewed)}}}};
}

TEST(SchedulerFitTest, PodRequestsSumContainersAndTakeTheLargestInitContainer) {
  Json pod = Pod("p", "250m", "64Mi");
  pod["spec"]["containers"].push_back(
      {{"name", "d"}, {"resources", {{"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}}}});
  EXPECT_EQ(PodRequests(pod).cpu_milli, 1250);  // a limit stands in for a missing request
  EXPECT_EQ(PodRequests(pod).memory_bytes, (64ll << 20) + (1ll << 30));
  pod["spec"]["initContainers"] =
      Json::array({{{"name", "i"}, {"resources", {{"requests", {{"cpu", "3"}}}}}}});
  EXPECT_EQ(PodRequests(pod).cpu_milli, 3000);
  EXPECT_EQ(PodRequests(Pod("empty")).cpu_milli, 0);
  EXPECT_EQ(ScoringRequests({}).cpu_milli, 100);
  EXPECT_EQ(ScoringRequests({}).memory_bytes, 200ll << 20);
}

TEST(SchedulerFitTest, OnlyReadyHeartbeatingUncordonedNodesTakePods) {
  const SystemTime now = RealClock::Get().Now();
  Json fresh = Lease("n", now - std::chrono::seconds(5));
  Json stale = Lease("n", now - std::chrono::seconds(41));
  std::string why;
  EXPECT_TRUE(NodeSchedulable(Node("n"), &fresh, now, &why));
  EXPECT_FALSE(NodeSchedulable(Node("n"), &stale, now, &why));
  EXPECT_EQ(why, "not heartbeating");
  EXPECT_FALSE(NodeSchedulable(Node("n"), nullptr, now, &why));
  EXPECT_FALSE(NodeSchedulable(Node("n", false), &fresh, now, &why));
  EXPECT_EQ(why, "not ready");
  Json cordoned = Node("n");
  cordoned["spec"]["unschedulable"] = true;
  EXPECT_FALSE(NodeSchedulable(cordoned, &fresh, now, &why));
  EXPECT_EQ(why, "unschedulable");
}

TEST(SchedulerFitTest, LeastAllocatedWinsAndWhatDoesNotFitSaysWhy) {
  NodeCapacity a = CapacityOf(Node("a")), b = CapacityOf(Node("b"));
  EXPECT_EQ(a.allocatable.cpu_milli, 2000);
  EXPECT_EQ(a.allocatable.memory_bytes, 4ll << 30);
  std::map<std::string, int> reasons;
  EXPECT_EQ(PickNode({a, b}, {}, &reasons), "a");  // a tie goes to the first name
  a.scoring = {500, 0};
  EXPECT_EQ(PickNode({a, b}, {}, &reasons), "b");
  EXPECT_EQ(PickNode({a, b}, {1600, 0}, &reasons), "b");
  b.requested = {1000, 0};
  a.requested = {1000, 0};
  EXPECT_EQ(PickNode({a, b}, {1500, 0}, &reasons), std::nullopt);
  EXPECT_EQ(UnschedulableMessage(3, {{"Insufficient cpu", 2}, {"node(s) not ready", 1}}),
            "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) not ready.");
  EXPECT_EQ(reasons["Insufficient cpu"], 2);
  EXPECT_EQ(UnschedulableMessage(0, {}), "no nodes available to schedule pods");
  a.pods = a.max_pods;
  reasons.clear();
  EXPECT_EQ(PickNode({a}, {}, &reasons), std::nullopt);
  EXPECT_EQ(reasons["Too many pods"], 1);
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::MemoryStore::Open();
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    for (const char* ns : {"default", "kube-node-lease"}) {
      auto created = store_->Create(
          api::NamespaceResource(),
          {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
      ASSERT_TRUE(created || created.error().code == Code::kAlreadyExists)
          << created.error().message;
    }
  }
  void AddNode(const std::string& name, SystemTime renewed, const std::string& cpu = "2") {
    Json node = Node(name, true, cpu);
    ASSERT_TRUE(store_->Create(api::NodeResource(), node, {.keep_status = true}));
    ASSERT_TRUE(store_->Create(api::LeaseResource(), Lease(name, renewed)));
  }
  std::string NodeOf(const std::string& pod) {
    auto p = store_->Get(api::PodResource(), "default", pod);
    return p ? GetString(*p, "spec.nodeName") : "?";
  }
  std::unique_ptr<store::MemoryStore> store_;
};

TEST_F(SchedulerTest, SpreadsPodsOverHeartbeatingNodesAndMarksWhatFitsNowhere) {
  const SystemTime now = RealClock::Get().Now();
  AddNode("node-a", now);
  AddNode("node-b", now);
  AddNode("node-dead", now - std::chrono::minutes(5));  // its heartbeat stopped
  Scheduler scheduler(*store_, {.retry_period = std::chrono::milliseconds(50)});
  ASSERT_TRUE(scheduler.Start());
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(store_->Create(api::PodResource(), Pod("p" + std::to_string(i))));
  ASSERT_TRUE(store_->Create(api::PodResource(), Pod("huge", "64")));
  ASSERT_TRUE(asb::testing::WaitFor(
      [&] {
        for (int i = 0; i < 6; ++i)
          if (NodeOf("p" + std::to_string(i)).empty()) return false;
        return true;
      },
      std::chrono::seconds(10)));
  std::map<std::string, int> per_node;
  for (int i = 0; i < 6; ++i) ++per_node[NodeOf("p" + std::to_string(i))];
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"node-a", 3}, {"node-b", 3}}));

  auto unschedulable = [&] {
    auto p = store_->Get(api::PodResource(), "default", "huge");
    const Json* cs = p ? Find(*p, "status.conditions") : nullptr;
    if (cs == nullptr || !cs->is_array()) return std::string();
    for (const Json& c : *cs)
      if (GetString(c, "type") == "PodScheduled" && GetString(c, "reason") == "Unschedulable")
        return GetString(c, "message");
    return std::string();
  };
  ASSERT_TRUE(
      asb::testing::WaitFor([&] { return !unschedulable().empty(); }, std::chrono::seconds(10)));
  EXPECT_EQ(unschedulable(),
            "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) not heartbeating.");
  EXPECT_EQ(NodeOf("huge"), "");

  // A bigger node joins: the pending pod goes there.
  AddNode("node-big", RealClock::Get().Now(), "100");
  ASSERT_TRUE(asb::testing::WaitFor([&] { return NodeOf("huge") == "node-big"; },
                                    std::chrono::seconds(10)));
  EXPECT_EQ(scheduler.bindings(), 7u);
  scheduler.Stop();
}

TEST_F(SchedulerTest, FreedResourcesGoToPendingPodsAsPodsFinishOrGo) {
  // The scheduler's per-node usage follows the pod events: a deleted pod and a finished one
  // give their requests back, and a pending pod that fit nowhere then binds.
  AddNode("node-a", RealClock::Get().Now(), "2");
  Scheduler scheduler(*store_, {.retry_period = std::chrono::milliseconds(50)});
  ASSERT_TRUE(scheduler.Start());
  ASSERT_TRUE(store_->Create(api::PodResource(), Pod("a", "1")));
  ASSERT_TRUE(store_->Create(api::PodResource(), Pod("b", "1")));
  ASSERT_TRUE(
      asb::testing::WaitFor([&] { return NodeOf("a") == "node-a" && NodeOf("b") == "node-a"; },
                            std::chrono::seconds(10)));
  ASSERT_TRUE(store_->Create(api::PodResource(), Pod("c", "1")));
  ASSERT_TRUE(store_->Create(api::PodResource(), Pod("d", "1")));
  // Both wait: node-a is full.
  ASSERT_TRUE(asb::testing::WaitFor([&] { return scheduler.bindings() == 2; }));
  auto unschedulable = [&](const std::string& name) {
    auto p = store_->Get(api::PodResource(), "default", name);
    const Json* cs = p ? Find(*p, "status.conditions") : nullptr;
    return cs != nullptr && cs->is_array() && !cs->empty();
  };
  ASSERT_TRUE(asb::testing::WaitFor([&] { return unschedulable("c") && unschedulable("d"); },
                                    std::chrono::seconds(10)));
  EXPECT_EQ(NodeOf("c"), "");
  ASSERT_TRUE(store_->Delete(api::PodResource(), "default", "a"));
  ASSERT_TRUE(
      asb::testing::WaitFor([&] { return (NodeOf("c") == "node-a") != (NodeOf("d") == "node-a"); },
                            std::chrono::seconds(10)));
  const std::string waiting = NodeOf("c").empty() ? "d" : "c";
  auto b = store_->Get(api::PodResource(), "default", "b");
  ASSERT_TRUE(b);
  (*b)["status"]["phase"] = "Succeeded";
  ASSERT_TRUE(store_->Update(api::PodResource(), *b, {.status_only = true}));
  ASSERT_TRUE(
      asb::testing::WaitFor([&] { return NodeOf(waiting) == "node-a"; }, std::chrono::seconds(10)));
  ASSERT_TRUE(asb::testing::WaitFor([&] { return scheduler.bindings() == 4; }));
  scheduler.Stop();
}

TEST_F(SchedulerTest, CountsThousandsOfBoundPodsWithoutCopyingThemEachPass) {
  // 3,000 pods already bound hold 300 of the node's 305 cpus: 50 more 100m pods fit, the 51st
  // does not. A pass costs O(pending pods + nodes), so the time per binding is printed too.
  Json node = Node("node-a", true, "305");
  node["status"]["allocatable"]["pods"] = "10000";
  ASSERT_TRUE(store_->Create(api::NodeResource(), node, {.keep_status = true}));
  ASSERT_TRUE(store_->Create(api::LeaseResource(), Lease("node-a", RealClock::Get().Now())));
  for (int i = 0; i < 3000; ++i) {
    Json p = Pod("bound-" + std::to_string(i), "100m");
    p["spec"]["nodeName"] = "node-a";
    ASSERT_TRUE(store_->Create(api::PodResource(), p));
  }
  Scheduler scheduler(*store_, {.retry_period = std::chrono::milliseconds(1000)});
  ASSERT_TRUE(scheduler.Start());
  constexpr int kFit = 50;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kFit; ++i) {
    const std::string name = "new-" + std::to_string(i);
    ASSERT_TRUE(store_->Create(api::PodResource(), Pod(name, "100m")));
    ASSERT_TRUE(asb::testing::WaitFor([&] { return NodeOf(name) == "node-a"; },
                                      std::chrono::seconds(10), std::chrono::milliseconds(1)));
  }
  auto per_pod =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0) / kFit;
  std::printf("scheduler: %.2f ms from create to bound per pod, 3,000 pods bound\n",
              per_pod.count());
  ASSERT_TRUE(store_->Create(api::PodResource(), Pod("one-too-many", "100m")));
  ASSERT_TRUE(asb::testing::WaitFor(
      [&] {
        auto p = store_->Get(api::PodResource(), "default", "one-too-many");
        return p && Find(*p, "status.conditions") != nullptr;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(NodeOf("one-too-many"), "");
  EXPECT_EQ(scheduler.bindings(), static_cast<uint64_t>(kFit));
  scheduler.Stop();
}

}  // namespace
}  // namespace asb::asbd
