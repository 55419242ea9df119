#include "kube/leader_election.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/resource.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::kube {
namespace {

using std::chrono::milliseconds;

LeaderElectionOptions Fast(const std::string& id) {
  LeaderElectionOptions o;
  o.lease_namespace = "default";
  o.identity = id;
  o.lease_duration = std::chrono::seconds(1);  // the Lease counts whole seconds
  o.renew_deadline = milliseconds(600);
  o.retry_period = milliseconds(100);
  return o;
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(store_, store::MemoryStore::Open()); }
  Json Lease() {
    auto l = store_->Get(api::LeaseResource(), "default", "a3317529.agent-sandbox.x-k8s.io");
    return l ? *l : Json();
  }
  std::unique_ptr<store::MemoryStore> store_;
};

TEST_F(LeaderElectionTest, OneHolderWhileItRenewsThenAHandOverOnRelease) {
  LeaderElector a(*store_, Fast("a")), b(*store_, Fast("b"));
  ASSERT_TRUE(a.Acquire());
  EXPECT_EQ(GetString(Lease(), "spec.holderIdentity"), "a");
  EXPECT_EQ(Lease()["spec"]["leaseDurationSeconds"], 1);
  std::thread renewing([&] { EXPECT_TRUE(a.Renew()); });
  std::atomic<bool> b_leads{false};
  std::thread waiting([&] { b_leads = b.Acquire(); });
  // Three lease durations with a renewing holder: b never gets it.
  std::this_thread::sleep_for(milliseconds(2400));
  EXPECT_FALSE(b.is_leader());
  EXPECT_TRUE(a.is_leader());
  auto released = std::chrono::steady_clock::now();
  a.Stop();
  renewing.join();
  ASSERT_OK(a.Release());
  EXPECT_EQ(GetString(Lease(), "spec.holderIdentity"), "");
  // A released lease is taken at b's next retry, not after a lease duration.
  waiting.join();
  EXPECT_TRUE(b_leads);
  EXPECT_LT(std::chrono::steady_clock::now() - released, milliseconds(700));
  EXPECT_EQ(GetString(Lease(), "spec.holderIdentity"), "b");
}

TEST_F(LeaderElectionTest, AHolderThatStopsRenewingLosesItAfterTheLeaseDuration) {
  LeaderElector a(*store_, Fast("a")), b(*store_, Fast("b"));
  ASSERT_TRUE(a.Acquire());
  auto stopped_renewing = std::chrono::steady_clock::now();  // a "crashes": no more renewals
  ASSERT_TRUE(b.Acquire());
  auto took = std::chrono::steady_clock::now() - stopped_renewing;
  EXPECT_GE(took, std::chrono::seconds(1));
  EXPECT_LT(took, milliseconds(1600));
  Json lease = Lease();
  EXPECT_EQ(GetString(lease, "spec.holderIdentity"), "b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  // a comes back: its next renew sees b's name and it stops at once, before its deadline.
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(a.Renew());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(400));
  EXPECT_FALSE(a.is_leader());
}

TEST_F(LeaderElectionTest, ConcurrentCandidatesElectExactlyOne) {
  std::vector<std::unique_ptr<LeaderElector>> es;
  for (int i = 0; i < 4; ++i)
    es.push_back(std::make_unique<LeaderElector>(*store_, Fast("c" + std::to_string(i))));
  std::vector<std::thread> ts;
  std::atomic<int> winners{0};
  for (auto& e : es)
    ts.emplace_back([&, p = e.get()] {
      auto r = p->TryAcquireOrRenew();
      if (r && *r) ++winners;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(winners.load(), 1);
}

}  // namespace
}  // namespace asb::kube
