// Warm adoption over a store without multi-object writes (the Kubernetes REST API's case:
// RestStore::Transact is kUnimplemented): MemoryStore behind a wrapper that refuses Transact, so
// the claim reconciler takes the stepwise compare-and-set path (pod_transplant.h).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "controller/claim_plan.h"
#include "controller/conditions.h"
#include "controller/manager.h"
#include "controller/pod_transplant.h"
#include "controller/warm_pool_plan.h"
#include "tests/testing/controller_fixtures.h"

namespace asb::controller {
namespace {

using asb::controller::testing::ClaimObj;
using asb::controller::testing::FakeNode;
using asb::controller::testing::OpenStore;
using asb::controller::testing::PoolObj;
using asb::controller::testing::TemplateObj;
using asb::testing::WaitFor;
using std::chrono::seconds;

// Every Store call goes to `inner`, except Transact, which a REST API server doesn't have.
class NoTransactStore : public store::Store {
 public:
  explicit NoTransactStore(store::Store& inner) : inner_(inner) {}
  Result<store::Object> Get(const api::ResourceInfo& r, const std::string& ns,
                            const std::string& n) override {
    return inner_.Get(r, ns, n);
  }
  Result<store::ListResult> List(const api::ResourceInfo& r, const std::string& ns,
                                 const store::ListOptions& o) override {
    return inner_.List(r, ns, o);
  }
  Result<store::Object> Create(const api::ResourceInfo& r, store::Object obj,
                               const store::CreateOptions& o = {}) override {
    return inner_.Create(r, std::move(obj), o);
  }
  Result<store::Object> Update(const api::ResourceInfo& r, store::Object obj,
                               const store::UpdateOptions& o = {}) override {
    return inner_.Update(r, std::move(obj), o);
  }
  Result<store::Object> Delete(const api::ResourceInfo& r, const std::string& ns,
                               const std::string& n, const store::DeleteOptions& o = {}) override {
    return inner_.Delete(r, ns, n, o);
  }
  Result<std::unique_ptr<store::Watcher>> Watch(const api::ResourceInfo& r, const std::string& ns,
                                                const store::WatchOptions& o) override {
    return inner_.Watch(r, ns, o);
  }
  int64_t CurrentRevision() override { return inner_.CurrentRevision(); }
  int transacts = 0;
  Status Transact(const std::function<Status(store::Txn&)>&) override {
    ++transacts;
    return MakeError(Code::kUnimplemented, "no multi-object writes");
  }

 private:
  store::Store& inner_;
};

class StepwiseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backing_ = OpenStore(nullptr);
    ASSERT_TRUE(backing_);
    store_ = std::make_unique<NoTransactStore>(*backing_);
    node_ = std::make_unique<FakeNode>(*backing_);
    ManagerOptions o;
    o.claim_workers = 4;
    o.sandbox_workers = 4;
    mgr_ = std::make_unique<ControllerManager>(*store_, RealClock::Get(), o);
    ASSERT_OK(mgr_->Start());
  }
  void TearDown() override {
    mgr_.reset();
    node_.reset();
  }
  std::optional<Json> Get(const api::ResourceInfo& r, const std::string& name) {
    auto o = backing_->Get(r, "default", name);
    return o ? std::optional<Json>(*o) : std::nullopt;
  }
  int64_t PoolReady() {
    auto p = Get(api::SandboxWarmPoolResource(), "pool");
    const Json* r = p ? Find(*p, "status.readyReplicas") : nullptr;
    return r && r->is_number_integer() ? r->get<int64_t>() : -1;
  }
  std::vector<Json> Members() {
    store::ListOptions lo;
    lo.label_selector = PoolSelector("pool");
    auto l = backing_->List(api::SandboxResource(), "default", lo);
    return l ? l->items : std::vector<Json>{};
  }
  void SetUpPool(int n) {
    ASSERT_OK(backing_->Create(api::SandboxTemplateResource(), TemplateObj("tmpl")));
    ASSERT_OK(backing_->Create(api::SandboxWarmPoolResource(), PoolObj("pool", "tmpl", n)));
    ASSERT_TRUE(WaitFor([&] { return PoolReady() == n; }, seconds(20)));
  }

  std::unique_ptr<store::MemoryStore> backing_;
  std::unique_ptr<NoTransactStore> store_;
  std::unique_ptr<FakeNode> node_;
  std::unique_ptr<ControllerManager> mgr_;
};

TEST_F(StepwiseTest, ParallelClaimsEachGetTheirOwnWarmPod) {
  constexpr int kN = 12;
  SetUpPool(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      EXPECT_OK(backing_->Create(api::SandboxClaimResource(),
                                 ClaimObj("claim-" + std::to_string(i), "tmpl")));
    });
  for (auto& t : threads) t.join();
  auto ready = [&](const std::string& c) {
    auto claim = Get(api::SandboxClaimResource(), c);
    return claim && ConditionTrue(*claim, kCondReady);
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < kN; ++i)
          if (!ready("claim-" + std::to_string(i))) return false;
        return true;
      },
      seconds(20)));
  EXPECT_GT(store_->transacts, 0) << "the stepwise path was not the one taken";
  // Each claim's Sandbox ends up with a different former member's pod, controlled by it alone,
  // and the members are gone.
  std::set<std::string> pods;
  int warm = 0;
  for (int i = 0; i < kN; ++i) {
    std::string c = "claim-" + std::to_string(i);
    auto sb = Get(api::SandboxResource(), c);
    ASSERT_TRUE(sb) << c;
    EXPECT_TRUE(IsControlledBy(*sb, *Get(api::SandboxClaimResource(), c)));
    warm += Label(*sb, kLabelLaunchType) == "warm";
    std::string pod_name = Annotation(*sb, kAnnotationPodName).value_or(c);
    pods.insert(pod_name);
    EXPECT_TRUE(WaitFor([&] {
      auto pod = Get(api::PodResource(), pod_name);
      return pod && IsControlledBy(*pod, *sb);
    })) << pod_name;
    if (Label(*sb, kLabelLaunchType) == "warm") {
      EXPECT_TRUE(WaitFor([&] { return !Get(api::SandboxResource(), pod_name); })) << pod_name;
    }
  }
  EXPECT_EQ(pods.size(), static_cast<size_t>(kN)) << "a pod serves two claims";
  EXPECT_EQ(warm, kN);
  // The pool refills, and none of its members is a claimed one.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto ms = Members();
        if (ms.size() != static_cast<size_t>(kN)) return false;
        for (const Json& m : ms)
          if (pods.count(Name(m))) return false;
        return PoolReady() == kN;
      },
      seconds(20)))
      << "members " << Members().size() << ", ready " << PoolReady();
}

// Two claims that read the same member: the first compare-and-set wins it, the second is told
// kAborted and has not claimed it (so it goes on to another member).
TEST(StepwiseTakeOverTest, OnlyOneOfTwoClaimsTakesAMember) {
  auto store = OpenStore(nullptr);
  ASSERT_TRUE(store);
  ASSERT_OK_AND_ASSIGN(Json pool,
                       store->Create(api::SandboxWarmPoolResource(), PoolObj("pool", "tmpl", 1)));
  Json member = asb::controller::testing::SandboxObj("pool-abc");
  member["metadata"]["labels"][std::string(kLabelWarmPoolSandbox)] = NameHash("pool");
  member["metadata"]["ownerReferences"] =
      Json::array({MakeControllerRef(api::SandboxWarmPoolResource(), pool)});
  ASSERT_OK_AND_ASSIGN(Json listed, store->Create(api::SandboxResource(), member));
  ASSERT_OK_AND_ASSIGN(Json a, store->Create(api::SandboxClaimResource(), ClaimObj("a", "tmpl")));
  ASSERT_OK_AND_ASSIGN(Json b, store->Create(api::SandboxClaimResource(), ClaimObj("b", "tmpl")));

  bool a_claimed = false, b_claimed = false;
  ASSERT_OK_AND_ASSIGN(Json sb_a, TakeOverMemberStepwise(*store, listed, a, &a_claimed));
  EXPECT_TRUE(a_claimed);
  EXPECT_EQ(Name(sb_a), "a");
  auto lost = TakeOverMemberStepwise(*store, listed, b, &b_claimed);
  ASSERT_FALSE(lost);
  EXPECT_TRUE(lost.error().code == Code::kAborted || lost.error().code == Code::kNotFound)
      << lost.error().message;
  EXPECT_FALSE(b_claimed);
  EXPECT_FALSE(store->Get(api::SandboxResource(), "default", "b"));
  // No pod existed: the member went straight away, and a's Sandbox carries its spec.
  EXPECT_FALSE(store->Get(api::SandboxResource(), "default", "pool-abc"));
  EXPECT_EQ(Annotation(sb_a, kAnnotationPodName).value_or(""), "pool-abc");
}

}  // namespace
}  // namespace asb::controller
