#include <gtest/gtest.h>

#include <set>

#include "base/strings.h"
#include "controller/conditions.h"
#include "controller/controller_test_util.h"
#include "controller/object_util.h"
#include "controller/warm_pool_plan.h"
#include "controller/warm_pool_reconciler.h"

namespace asb::controller {
namespace {

using namespace asb::controller::testing;  // NOLINT
using std::chrono::minutes;
using std::chrono::seconds;

const SystemTime kT0 = SystemTime{} + std::chrono::hours(24 * 365 * 56);

PoolMember M(std::string name, int age_s, bool ready, bool failed = false) {
  PoolMember m;
  m.name = std::move(name);
  m.uid = "uid-" + m.name;
  m.created = kT0 - seconds(age_s);
  m.not_ready_since = m.created;
  m.ready = ready;
  m.failed = failed;
  return m;
}

std::vector<std::string> Names(const std::vector<PoolMember>& v) {
  std::vector<std::string> out;
  for (auto& m : v) out.push_back(m.name);
  return out;
}

TEST(PoolPlanTest, CreatesDeficitCappedByBatch) {
  PoolPlan p = PlanPool(5, {M("a", 10, true)}, true, kT0, {.max_batch = 3});
  EXPECT_EQ(p.create, 3);
  EXPECT_TRUE(p.to_delete.empty());
  EXPECT_EQ(p.replicas, 4);
  EXPECT_EQ(p.ready_replicas, 1);
  ASSERT_TRUE(p.requeue.after);  // finish the batch
  EXPECT_EQ(*p.requeue.after, Duration(0));
}

TEST(PoolPlanTest, NoTemplateNoCreates) {
  PoolPlan p = PlanPool(2, {}, false, kT0, {});
  EXPECT_EQ(p.create, 0);
  EXPECT_EQ(p.replicas, 0);
}

TEST(PoolPlanTest, ScaleDownDeletesUnreadyFirstThenNewest) {
  PoolPlan p = PlanPool(2,
                        {M("old-ready", 100, true), M("new-ready", 10, true),
                         M("mid-ready", 50, true), M("unready", 200, false)},
                        true, kT0, {});
  EXPECT_EQ(Names(p.to_delete), (std::vector<std::string>{"unready", "new-ready"}));
  EXPECT_EQ(p.create, 0);
  EXPECT_EQ(p.replicas, 2);
  EXPECT_EQ(p.ready_replicas, 2);
}

TEST(PoolPlanTest, ReplacesFailedAndStuckMembers) {
  PoolPlanOptions o{.readiness_grace = minutes(5)};
  PoolPlan p = PlanPool(3,
                        {M("ok", 1000, true), M("failed", 100, false, /*failed=*/true),
                         M("stuck", 301, false), M("booting", 60, false)},
                        true, kT0, o);
  EXPECT_EQ(Names(p.to_delete), (std::vector<std::string>{"failed", "stuck"}));
  EXPECT_EQ(p.create, 1);
  EXPECT_EQ(p.replicas, 3);
  ASSERT_TRUE(p.requeue.after);  // when "booting" would become stuck: 240 s from now
  EXPECT_GE(*p.requeue.after, seconds(240));
  EXPECT_LE(*p.requeue.after, seconds(241));
}

TEST(PoolPlanTest, StaleMembersReplacedOnlyUnderRecreate) {
  PoolMember stale = M("stale", 10, true);
  stale.stale = true;
  PoolPlan keep = PlanPool(2, {stale, M("fresh", 10, true)}, true, kT0, {});
  EXPECT_TRUE(keep.to_delete.empty());
  PoolPlan recreate =
      PlanPool(2, {stale, M("fresh", 10, true)}, true, kT0, {.recreate_stale = true});
  EXPECT_EQ(Names(recreate.to_delete), (std::vector<std::string>{"stale"}));
  EXPECT_EQ(recreate.create, 1);
}

TEST(PoolPlanTest, DeletingMembersAreNotCounted) {
  PoolMember d = M("going", 10, true);
  d.deleting = true;
  PoolPlan p = PlanPool(1, {d}, true, kT0, {});
  EXPECT_EQ(p.create, 1);
  EXPECT_TRUE(p.to_delete.empty());
}

class WarmPoolReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(&clock_);
    ASSERT_TRUE(store_);
    ASSERT_OK(store_->Create(api::SandboxTemplateResource(), TemplateObj("tmpl")));
    ASSERT_OK(store_->Create(api::SandboxWarmPoolResource(), PoolObj("pool", "tmpl", 3)));
  }
  std::vector<Json> Members() {
    store::ListOptions lo;
    lo.label_selector = PoolSelector("pool");
    auto l = store_->List(api::SandboxResource(), "default", lo);
    EXPECT_TRUE(l.has_value());
    return l ? l->items : std::vector<Json>{};
  }
  void SetSandboxReady(const std::string& name, bool ready, const std::string& reason) {
    auto sb = store_->Get(api::SandboxResource(), "default", name);
    ASSERT_TRUE(sb);
    (*sb)["status"] = {
        {"conditions", Json::array({{{"type", "Ready"},
                                     {"status", ready ? "True" : "False"},
                                     {"reason", reason},
                                     {"lastTransitionTime", FormatRfc3339(clock_.Now())}}})}};
    store::UpdateOptions o;
    o.status_only = true;
    ASSERT_OK(store_->Update(api::SandboxResource(), *sb, o));
  }
  void Scale(int n) {
    auto p = store_->Get(api::SandboxWarmPoolResource(), "default", "pool");
    ASSERT_TRUE(p);
    (*p)["spec"]["replicas"] = n;
    ASSERT_OK(store_->Update(api::SandboxWarmPoolResource(), *p));
  }
  Json PoolStatus() {
    auto p = store_->Get(api::SandboxWarmPoolResource(), "default", "pool");
    return p ? (*p)["status"] : Json();
  }

  FakeClock clock_;
  std::unique_ptr<store::MemoryStore> store_;
};

TEST_F(WarmPoolReconcilerTest, KeepsReplicasReplacesFailedAndScales) {
  WarmPoolReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/pool"));
  std::vector<Json> members = Members();
  ASSERT_EQ(members.size(), 3u);
  auto pool = store_->Get(api::SandboxWarmPoolResource(), "default", "pool");
  for (const Json& m : members) {
    EXPECT_TRUE(StartsWith(Name(m), "pool-"));
    EXPECT_EQ(Name(m).size(), 10u);
    EXPECT_TRUE(IsControlledBy(m, *pool));
    EXPECT_EQ(Label(m, kLabelTemplateRefHash), NameHash("tmpl"));
    EXPECT_EQ(Label(m, kLabelLaunchType), "warm");
    EXPECT_EQ(Label(m, kLabelCreatedBy), "controller");
    EXPECT_EQ(Annotation(m, kAnnotationTemplateRef), "tmpl");
    EXPECT_EQ(m["spec"]["podTemplate"], PodTemplate());
  }
  EXPECT_EQ(PoolStatus()["replicas"], 3);
  EXPECT_EQ(PoolStatus()["readyReplicas"], 0);
  EXPECT_EQ(PoolStatus()["selector"], PoolSelector("pool"));

  // Idempotent.
  ASSERT_OK(r.Reconcile("default/pool"));
  EXPECT_EQ(Members().size(), 3u);

  SetSandboxReady(Name(members[0]), true, "DependenciesReady");
  SetSandboxReady(Name(members[1]), false, "PodFailed");
  ASSERT_OK(r.Reconcile("default/pool"));
  std::set<std::string> names;
  for (const Json& m : Members()) names.insert(Name(m));
  EXPECT_EQ(names.size(), 3u);
  EXPECT_EQ(names.count(Name(members[1])), 0u);  // failed member replaced
  EXPECT_EQ(names.count(Name(members[0])), 1u);
  EXPECT_EQ(PoolStatus()["readyReplicas"], 1);

  Scale(1);
  ASSERT_OK(r.Reconcile("default/pool"));
  ASSERT_EQ(Members().size(), 1u);
  EXPECT_EQ(Name(Members()[0]), Name(members[0]));  // the Ready one survives
  Scale(4);
  ASSERT_OK(r.Reconcile("default/pool"));
  EXPECT_EQ(Members().size(), 4u);
  EXPECT_EQ(PoolStatus()["replicas"], 4);
}

TEST_F(WarmPoolReconcilerTest, StuckMembersAreReplacedAfterGrace) {
  WarmPoolReconciler r(*store_, clock_, {.readiness_grace = minutes(5)});
  ASSERT_OK_AND_ASSIGN(Requeue q, r.Reconcile("default/pool"));
  ASSERT_TRUE(q.after);
  EXPECT_LE(*q.after, minutes(5) + seconds(1));
  std::vector<Json> before = Members();
  SetSandboxReady(Name(before[0]), true, "DependenciesReady");
  clock_.Advance(minutes(5) + seconds(1));
  ASSERT_OK(r.Reconcile("default/pool"));
  std::vector<Json> after = Members();
  ASSERT_EQ(after.size(), 3u);
  int kept = 0;
  for (const Json& a : after)
    for (const Json& b : before) kept += Name(a) == Name(b);
  EXPECT_EQ(kept, 1);  // only the Ready member survived the grace period
}

TEST_F(WarmPoolReconcilerTest, TemplateEditRecreatesMembersUnderRecreateOnly) {
  WarmPoolReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/pool"));
  std::vector<Json> before = Members();
  auto t = store_->Get(api::SandboxTemplateResource(), "default", "tmpl");
  (*t)["spec"]["podTemplate"]["spec"]["containers"][0]["image"] = "python:v2";
  ASSERT_OK(store_->Update(api::SandboxTemplateResource(), *t));
  ASSERT_OK(r.Reconcile("default/pool"));  // OnReplenish: members kept
  for (const Json& m : Members())
    EXPECT_EQ(m["spec"]["podTemplate"]["spec"]["containers"][0]["image"],
              before[0]["spec"]["podTemplate"]["spec"]["containers"][0]["image"]);
  auto p = store_->Get(api::SandboxWarmPoolResource(), "default", "pool");
  (*p)["spec"]["updateStrategy"] = {{"type", "Recreate"}};
  ASSERT_OK(store_->Update(api::SandboxWarmPoolResource(), *p));
  ASSERT_OK(r.Reconcile("default/pool"));
  std::vector<Json> after = Members();
  ASSERT_EQ(after.size(), 3u);
  for (const Json& m : after)
    EXPECT_EQ(m["spec"]["podTemplate"]["spec"]["containers"][0]["image"], "python:v2");
}

TEST_F(WarmPoolReconcilerTest, MissingTemplateCreatesNothingAndRetries) {
  ASSERT_OK(store_->Create(api::SandboxWarmPoolResource(), PoolObj("orphan", "nope", 2)));
  WarmPoolReconciler r(*store_, clock_, {});
  ASSERT_OK_AND_ASSIGN(Requeue q, r.Reconcile("default/orphan"));
  ASSERT_TRUE(q.after);
  EXPECT_EQ(*q.after, minutes(1));
  store::ListOptions lo;
  lo.label_selector = PoolSelector("orphan");
  EXPECT_TRUE(store_->List(api::SandboxResource(), "default", lo)->items.empty());
}

}  // namespace
}  // namespace asb::controller
