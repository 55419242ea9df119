// Claim plan functions (pure) and the whole controller set driven by ControllerManager against a
// memory store, with a fake node that marks pods Running + Ready.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "controller/claim_plan.h"
#include "controller/conditions.h"
#include "controller/manager.h"
#include "controller/object_util.h"
#include "controller/pod_transplant.h"
#include "controller/sandbox_plan.h"
#include "controller/warm_pool_plan.h"
#include "metrics/metrics.h"
#include "tests/testing/controller_fixtures.h"

namespace asb::controller {
namespace {

using namespace asb::controller::testing;  // NOLINT
using asb::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;

const SystemTime kT0 = SystemTime{} + std::chrono::hours(24 * 365 * 56);

Json Claim(std::string warmpool = "") {
  Json c = {{"metadata",
             {{"name", "c1"}, {"namespace", "default"}, {"uid", "uid-c1"}, {"generation", 2}}},
            {"spec", {{"sandboxTemplateRef", {{"name", "tmpl"}}}}}};
  if (!warmpool.empty()) c["spec"]["warmpool"] = warmpool;
  return c;
}

Json Member(const std::string& name, int age_s, bool ready, const std::string& owner_kind) {
  Json sb = {{"metadata",
              {{"name", name},
               {"namespace", "default"},
               {"uid", "uid-" + name},
               {"resourceVersion", "7"},
               {"creationTimestamp", FormatRfc3339(kT0 - seconds(age_s))},
               {"labels", {{std::string(kLabelWarmPoolSandbox), NameHash("pool")}}},
               {"ownerReferences", Json::array({{{"kind", owner_kind},
                                                 {"name", "pool"},
                                                 {"uid", "uid-pool"},
                                                 {"controller", true}}})}}},
             {"status",
              {{"conditions", Json::array({{{"type", "Ready"},
                                            {"status", ready ? "True" : "False"},
                                            {"reason", "DependenciesReady"},
                                            {"message", "Pod is Ready"}}})}}}};
  return sb;
}

TEST(ClaimPlanTest, WarmPoolPolicyAndSelector) {
  EXPECT_EQ(GetWarmPoolPolicy(Claim()), WarmPoolPolicy::kAny);
  EXPECT_EQ(GetWarmPoolPolicy(Claim("default")), WarmPoolPolicy::kAny);
  EXPECT_EQ(GetWarmPoolPolicy(Claim("none")), WarmPoolPolicy::kNone);
  EXPECT_EQ(GetWarmPoolPolicy(Claim("pool")), WarmPoolPolicy::kNamed);
  EXPECT_EQ(CandidateSelector(Claim()),
            "agents.x-k8s.io/sandbox-template-ref-hash=" + NameHash("tmpl") +
                ",agents.x-k8s.io/warm-pool-sandbox");
  EXPECT_EQ(CandidateSelector(Claim("pool")),
            "agents.x-k8s.io/sandbox-template-ref-hash=" + NameHash("tmpl") +
                ",agents.x-k8s.io/warm-pool-sandbox=" + NameHash("pool"));
}

TEST(ClaimPlanTest, CandidatesAreReadyPoolMembersOnly) {
  std::vector<Json> listed = {
      Member("a", 10, true, "SandboxWarmPool"), Member("b", 20, false, "SandboxWarmPool"),
      Member("c", 30, true, "SandboxClaim"), Member("d", 40, true, "SandboxWarmPool")};
  std::vector<const Json*> order = OrderCandidates(Claim(), listed);
  std::set<std::string> names;
  for (const Json* c : order) names.insert(Name(*c));
  EXPECT_EQ(names, (std::set<std::string>{"a", "d"}));
}

TEST(ClaimPlanTest, AdoptionMovesOwnershipToTheClaim) {
  Json adopted = AdoptedSandbox(Member("a", 10, true, "SandboxWarmPool"), Claim());
  auto ref = ControllerRef(adopted);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->kind, "SandboxClaim");
  EXPECT_EQ(ref->uid, "uid-c1");
  EXPECT_EQ(adopted["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_FALSE(Label(adopted, kLabelWarmPoolSandbox));
  EXPECT_EQ(Label(adopted, kLabelLaunchType), "warm");
  EXPECT_EQ(Label(adopted, kLabelClaimUid), "uid-c1");
  EXPECT_EQ(GetString(adopted, "metadata.resourceVersion"), "7");  // compare-and-set
}

TEST(ClaimPlanTest, ColdSandboxIsNamedLikeTheClaim) {
  Json sb = BuildColdSandbox(Claim(), TemplateObj("tmpl"));
  EXPECT_EQ(Name(sb), "c1");
  EXPECT_EQ(Label(sb, kLabelLaunchType), "cold");
  EXPECT_EQ(Label(sb, kLabelClaimUid), "uid-c1");
  EXPECT_EQ(sb["spec"]["podTemplate"], PodTemplate());
  EXPECT_EQ(ControllerRef(sb)->kind, "SandboxClaim");
}

TEST(ClaimPlanTest, StatusMirrorsSandboxReady) {
  Json sb = Member("a", 10, true, "SandboxClaim");
  sb["status"]["podIPs"] = Json::array({"10.1.0.2"});
  Json st = ClaimStatus(Claim(), sb, kT0);
  EXPECT_FALSE(st["sandbox"].contains("Name"));  // v1alpha1 reads add it (api/conversion.h)
  EXPECT_EQ(st["sandbox"]["name"], "a");
  EXPECT_EQ(st["sandbox"]["podIPs"], Json::array({"10.1.0.2"}));
  Json wrapped = {{"status", st}};
  const Json* ready = FindCondition(wrapped, kCondReady);
  ASSERT_TRUE(ready);
  EXPECT_EQ((*ready)["status"], "True");
  EXPECT_EQ((*ready)["reason"], "DependenciesReady");
  EXPECT_EQ((*ready)["observedGeneration"], 2);

  Json none = ClaimStatus(Claim(), std::nullopt, kT0, kReasonTemplateNotFound, "missing");
  Json w2 = {{"status", none}};
  EXPECT_EQ((*FindCondition(w2, kCondReady))["reason"], "TemplateNotFound");
  EXPECT_FALSE(none.contains("sandbox"));
}

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(nullptr);
    ASSERT_TRUE(store_);
    node_ = std::make_unique<FakeNode>(*store_);
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
    auto o = store_->Get(r, "default", name);
    if (!o) return std::nullopt;
    return *o;
  }
  bool ClaimReady(const std::string& name) {
    auto c = Get(api::SandboxClaimResource(), name);
    return c && ConditionTrue(*c, kCondReady);
  }
  std::string ClaimSandbox(const std::string& name) {
    auto c = Get(api::SandboxClaimResource(), name);
    return c ? GetString(*c, "status.sandbox.name") : "";
  }
  int64_t PoolReady(const std::string& name) {
    auto p = Get(api::SandboxWarmPoolResource(), name);
    const Json* r = p ? Find(*p, "status.readyReplicas") : nullptr;
    return r && r->is_number_integer() ? r->get<int64_t>() : -1;
  }
  std::vector<Json> PoolMembers(const std::string& pool) {
    store::ListOptions lo;
    lo.label_selector = PoolSelector(pool);
    auto l = store_->List(api::SandboxResource(), "default", lo);
    return l ? l->items : std::vector<Json>{};
  }
  void SetUpPool(int n) {
    ASSERT_OK(
        store_->Create(api::SandboxTemplateResource(), TemplateObj("python-runtime-template")));
    ASSERT_OK(store_->Create(api::SandboxWarmPoolResource(),
                             PoolObj("python-sandbox-warmpool", "python-runtime-template", n)));
    ASSERT_TRUE(WaitFor([&] { return PoolReady("python-sandbox-warmpool") == n; }, seconds(20)))
        << "pool never became ready: " << PoolReady("python-sandbox-warmpool");
  }

  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<FakeNode> node_;
  std::unique_ptr<ControllerManager> mgr_;
};

TEST_F(ManagerTest, TemplateGetsRefHashLabel) {
  ASSERT_OK(store_->Create(api::SandboxTemplateResource(), TemplateObj("t1")));
  EXPECT_TRUE(WaitFor(
      [&] {
        auto t = Get(api::SandboxTemplateResource(), "t1");
        return t && Label(*t, kLabelTemplateRefHash) == NameHash("t1");
      },
      seconds(5)));
}

TEST_F(ManagerTest, ClaimAdoptsReadyMemberAndPoolRefills) {
  SetUpPool(2);
  std::set<std::string> before;
  for (const Json& m : PoolMembers("python-sandbox-warmpool")) before.insert(Name(m));
  ASSERT_EQ(before.size(), 2u);

  ASSERT_OK(store_->Create(api::SandboxClaimResource(),
                           ClaimObj("sandbox-claim-1", "python-runtime-template")));
  ASSERT_TRUE(WaitFor([&] { return ClaimReady("sandbox-claim-1"); }, seconds(5)));
  // The claim's Sandbox carries the claim's name (a v0.1.0 client watches metadata.name=<claim>)
  // and runs a former member's pod; the member Sandbox is gone.
  std::string sb_name = ClaimSandbox("sandbox-claim-1");
  EXPECT_EQ(sb_name, "sandbox-claim-1");
  auto claim = Get(api::SandboxClaimResource(), "sandbox-claim-1");
  auto sb = Get(api::SandboxResource(), sb_name);
  ASSERT_TRUE(sb);
  EXPECT_TRUE(IsControlledBy(*sb, *claim));
  EXPECT_TRUE(ConditionTrue(*sb, kCondReady));
  EXPECT_EQ(Label(*sb, kLabelLaunchType), "warm");
  EXPECT_EQ(Label(*sb, kLabelClaimUid), Uid(*claim));
  EXPECT_FALSE(Label(*sb, kLabelWarmPoolSandbox));
  std::string pod_name = Annotation(*sb, kAnnotationPodName).value_or("");
  EXPECT_EQ(before.count(pod_name), 1u) << pod_name << " is not a former pool member's pod";
  EXPECT_TRUE(WaitFor([&] { return !Get(api::SandboxResource(), pod_name); }, seconds(5)))
      << "the adopted member Sandbox was not removed";
  // The pod follows: owned by the claim's Sandbox, pool label gone, claim label and the new
  // name hash present.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto pod = Get(api::PodResource(), pod_name);
        return pod && IsControlledBy(*pod, *sb) && !Label(*pod, kLabelWarmPoolSandbox) &&
               Label(*pod, kLabelClaimUid) &&
               Label(*pod, kLabelSandboxNameHash) == NameHash(sb_name);
      },
      seconds(5)));

  // The pool refills to 2 Ready members without the adopted one.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto members = PoolMembers("python-sandbox-warmpool");
        if (members.size() != 2) return false;
        for (const Json& m : members)
          if (Name(m) == pod_name) return false;
        return PoolReady("python-sandbox-warmpool") == 2;
      },
      seconds(10)));

  // Events were recorded on the claim.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto evs = store_->List(api::EventResource(), "default", {});
        if (!evs) return false;
        for (const Json& e : evs->items)
          if (GetString(e, "reason") == "SandboxAdopted" &&
              GetString(e, "involvedObject.name") == "sandbox-claim-1")
            return true;
        return false;
      },
      seconds(5)));

  // Deleting the claim deletes its sandbox, pod and events (ownerReference cascade).
  ASSERT_OK(store_->Delete(api::SandboxClaimResource(), "default", "sandbox-claim-1"));
  EXPECT_TRUE(WaitFor(
      [&] { return !Get(api::SandboxResource(), sb_name) && !Get(api::PodResource(), pod_name); },
      seconds(5)));
  EXPECT_TRUE(WaitFor(
      [&] {
        auto evs = store_->List(api::EventResource(), "default", {});
        if (!evs) return false;
        for (const Json& e : evs->items)
          if (GetString(e, "involvedObject.name") == "sandbox-claim-1") return false;
        return true;
      },
      seconds(5)));
}

// The daemon's refill_after_claim: the member a claim took is replaced only after the delay (its
// start would share the CPU with the claim's Ready and first exec), and then it is.
TEST(ManagerRefillTest, APoolReplacesAClaimedMemberAfterTheDelay) {
  auto store = OpenStore(nullptr);
  ASSERT_TRUE(store);
  FakeNode node(*store);
  ManagerOptions o;
  o.refill_after_claim = std::chrono::seconds(2);
  ControllerManager mgr(*store, RealClock::Get(), o);
  ASSERT_OK(mgr.Start());
  ASSERT_OK(store->Create(api::SandboxTemplateResource(), TemplateObj("python-runtime-template")));
  ASSERT_OK(store->Create(api::SandboxWarmPoolResource(),
                          PoolObj("python-sandbox-warmpool", "python-runtime-template", 2)));
  auto members = [&] {
    store::ListOptions lo;
    lo.label_selector = PoolSelector("python-sandbox-warmpool");
    auto l = store->List(api::SandboxResource(), "default", lo);
    return l ? l->items.size() : size_t{0};
  };
  auto ready = [&](const char* kind_name, const api::ResourceInfo& res) {
    auto obj = store->Get(res, "default", kind_name);
    return obj && ConditionTrue(*obj, kCondReady);
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = store->Get(api::SandboxWarmPoolResource(), "default", "python-sandbox-warmpool");
        const Json* r = p ? Find(*p, "status.readyReplicas") : nullptr;
        return r && r->is_number_integer() && r->get<int64_t>() == 2;
      },
      seconds(20)));

  ASSERT_OK(store->Create(api::SandboxClaimResource(),
                          ClaimObj("sandbox-claim-1", "python-runtime-template")));
  ASSERT_TRUE(
      WaitFor([&] { return ready("sandbox-claim-1", api::SandboxClaimResource()); }, seconds(5)));
  const auto claimed_at = std::chrono::steady_clock::now();
  // Without the delay the replacement is created within milliseconds; with it, not for 2 s.
  while (std::chrono::steady_clock::now() - claimed_at < std::chrono::milliseconds(500)) {
    ASSERT_EQ(members(), 1u) << "the pool replaced the claimed member before the delay";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(WaitFor([&] { return members() == 2; }, seconds(10)))
      << "the pool never replaced the claimed member";
}

TEST_F(ManagerTest, ParallelClaimsNeverShareASandbox) {
  constexpr int kN = 20;
  SetUpPool(kN);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      EXPECT_OK(store_->Create(api::SandboxClaimResource(),
                               ClaimObj("claim-" + std::to_string(i), "python-runtime-template")));
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < kN; ++i)
          if (!ClaimReady("claim-" + std::to_string(i))) return false;
        return true;
      },
      seconds(20), milliseconds(1)));
  std::printf(
      "%d parallel warm claims all Ready in %.1f ms\n", kN,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  std::set<std::string> sandboxes;
  int warm = 0;
  for (int i = 0; i < kN; ++i) {
    std::string c = "claim-" + std::to_string(i);
    std::string sb_name = ClaimSandbox(c);
    sandboxes.insert(sb_name);
    auto sb = Get(api::SandboxResource(), sb_name);
    ASSERT_TRUE(sb) << sb_name;
    EXPECT_TRUE(IsControlledBy(*sb, *Get(api::SandboxClaimResource(), c)));
    warm += Label(*sb, kLabelLaunchType) == "warm";
  }
  EXPECT_EQ(sandboxes.size(), static_cast<size_t>(kN));  // no double adoption
  EXPECT_EQ(warm, kN);                                   // every claim found a Ready member
}

TEST_F(ManagerTest, ClaimWithoutWarmMemberColdStartsSandboxNamedLikeClaim) {
  ASSERT_OK(store_->Create(api::SandboxTemplateResource(), TemplateObj("python-runtime-template")));
  ASSERT_OK(store_->Create(api::SandboxClaimResource(),
                           ClaimObj("sandbox-claim-cold", "python-runtime-template")));
  ASSERT_TRUE(WaitFor([&] { return ClaimReady("sandbox-claim-cold"); }, seconds(5)));
  EXPECT_EQ(ClaimSandbox("sandbox-claim-cold"), "sandbox-claim-cold");
  auto sb = Get(api::SandboxResource(), "sandbox-claim-cold");
  ASSERT_TRUE(sb);
  EXPECT_EQ(Label(*sb, kLabelLaunchType), "cold");
  EXPECT_TRUE(ConditionTrue(*sb, kCondReady));
  EXPECT_TRUE(Get(api::PodResource(), "sandbox-claim-cold"));
  // status.startup: seen by the controller, then Ready (claim_startup.h), in that order.
  auto claim = Get(api::SandboxClaimResource(), "sandbox-claim-cold");
  auto seen = ParseRfc3339(GetString(*claim, "status.startup.controllerObservedTime"));
  auto ready = ParseRfc3339(GetString(*claim, "status.startup.firstReadyTime"));
  ASSERT_TRUE(seen && ready) << DumpJson((*claim)["status"]);
  EXPECT_LT(*seen, *ready);
  std::string metrics = metrics::Registry::Default().Render();
  EXPECT_NE(metrics.find("agent_sandbox_claim_controller_startup_latency_ms_count{"
                         "launch_type=\"cold\",sandbox_template=\"python-runtime-template\"}"),
            std::string::npos)
      << metrics;
  ASSERT_OK(store_->Delete(api::SandboxClaimResource(), "default", "sandbox-claim-cold"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return !Get(api::SandboxResource(), "sandbox-claim-cold") &&
               !Get(api::PodResource(), "sandbox-claim-cold");
      },
      seconds(5)));
}

TEST_F(ManagerTest, WarmpoolNoneAlwaysColdStarts) {
  SetUpPool(1);
  Json c = ClaimObj("cold-only", "python-runtime-template");
  c["spec"]["warmpool"] = "none";
  ASSERT_OK(store_->Create(api::SandboxClaimResource(), c));
  ASSERT_TRUE(WaitFor([&] { return ClaimReady("cold-only"); }, seconds(5)));
  EXPECT_EQ(ClaimSandbox("cold-only"), "cold-only");
  EXPECT_EQ(PoolMembers("python-sandbox-warmpool").size(), 1u);
}

TEST_F(ManagerTest, MissingTemplateReportsTemplateNotFoundThenRecovers) {
  ASSERT_OK(store_->Create(api::SandboxClaimResource(), ClaimObj("orphan", "later-template")));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = Get(api::SandboxClaimResource(), "orphan");
        const Json* r = c ? FindCondition(*c, kCondReady) : nullptr;
        return r && GetString(*r, "reason") == "TemplateNotFound";
      },
      seconds(5)));
  auto c = Get(api::SandboxClaimResource(), "orphan");
  EXPECT_NE(GetString(*FindCondition(*c, kCondReady), "message").find("later-template"),
            std::string::npos);
  // Creating the template wakes the claim through the watch mapping (no 1-minute wait).
  ASSERT_OK(store_->Create(api::SandboxTemplateResource(), TemplateObj("later-template")));
  EXPECT_TRUE(WaitFor([&] { return ClaimReady("orphan"); }, seconds(5)));
}

}  // namespace
}  // namespace asb::controller

namespace asb::controller {
namespace {

class ClaimReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(&clock_);
    ASSERT_TRUE(store_);
    ASSERT_OK(store_->Create(api::SandboxTemplateResource(), TemplateObj("tmpl")));
  }
  std::optional<Json> Get(const api::ResourceInfo& r, const std::string& name) {
    auto o = store_->Get(r, "default", name);
    if (!o) return std::nullopt;
    return *o;
  }
  Json Ready(const std::string& claim) {
    auto c = Get(api::SandboxClaimResource(), claim);
    const Json* r = c ? FindCondition(*c, kCondReady) : nullptr;
    return r ? *r : Json::object();
  }
  FakeClock clock_;
  std::unique_ptr<store::MemoryStore> store_;
};

TEST_F(ClaimReconcilerTest, LifecycleRetainDeletesSandboxKeepsClaim) {
  Json c = ClaimObj("c1", "tmpl");
  c["spec"]["lifecycle"] = {{"shutdownTime", FormatRfc3339(clock_.Now() + seconds(30))}};
  ASSERT_OK(store_->Create(api::SandboxClaimResource(), c));
  ClaimReconciler r(*store_, clock_, {});
  ASSERT_OK_AND_ASSIGN(Requeue q, r.Reconcile("default/c1"));
  ASSERT_TRUE(q.after);
  EXPECT_LE(*q.after, seconds(31));
  ASSERT_TRUE(Get(api::SandboxResource(), "c1"));  // cold-started
  EXPECT_EQ(Ready("c1")["reason"], "SandboxNotReady");
  clock_.Advance(seconds(30));
  ASSERT_OK(r.Reconcile("default/c1"));
  EXPECT_FALSE(Get(api::SandboxResource(), "c1"));
  EXPECT_TRUE(Get(api::SandboxClaimResource(), "c1"));
  EXPECT_EQ(Ready("c1")["reason"], "ClaimExpired");
  ASSERT_OK(r.Reconcile("default/c1"));  // stays expired, no new sandbox
  EXPECT_FALSE(Get(api::SandboxResource(), "c1"));
}

TEST_F(ClaimReconcilerTest, LifecycleDeleteDeletesClaimAndCascades) {
  Json c = ClaimObj("c1", "tmpl");
  c["spec"]["lifecycle"] = {{"shutdownTime", FormatRfc3339(clock_.Now() + seconds(1))},
                            {"shutdownPolicy", "Delete"}};
  ASSERT_OK(store_->Create(api::SandboxClaimResource(), c));
  ClaimReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/c1"));
  ASSERT_TRUE(Get(api::SandboxResource(), "c1"));
  clock_.Advance(seconds(1));
  ASSERT_OK(r.Reconcile("default/c1"));
  EXPECT_FALSE(Get(api::SandboxClaimResource(), "c1"));
  EXPECT_TRUE(WaitFor([&] { return !Get(api::SandboxResource(), "c1"); }, seconds(5)));
}

// A Ready member of pool "pool" (template "tmpl") with its running pod, written as the pool and
// the node would have left them. Returns the member.
Json MakeReadyMember(store::Store& s, const std::string& name) {
  auto pool = s.Get(api::SandboxWarmPoolResource(), "default", "pool");
  if (!pool) pool = s.Create(api::SandboxWarmPoolResource(), PoolObj("pool", "tmpl", 1));
  EXPECT_TRUE(pool);
  Json sb = SandboxObj(name);
  SetLabel(sb, kLabelTemplateRefHash, NameHash("tmpl"));
  SetLabel(sb, kLabelWarmPoolSandbox, NameHash("pool"));
  SetControllerRef(sb, MakeControllerRef(api::SandboxWarmPoolResource(), *pool));
  sb["status"] = {{"conditions", Json::array({{{"type", "Ready"},
                                               {"status", "True"},
                                               {"reason", "DependenciesReady"},
                                               {"message", "Pod is Ready"}}})}};
  auto member = s.Create(api::SandboxResource(), sb, {.keep_status = true});
  EXPECT_TRUE(member);
  Json pod = {{"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec", PodTemplate()["spec"]}};
  SetControllerRef(pod, MakeControllerRef(api::SandboxResource(), *member));
  EXPECT_TRUE(s.Create(api::PodResource(), pod));
  return *member;
}

// agent_sandbox_claim_startup_latency_ms observations of warm claims so far (the registry is
// process-wide, so tests compare before and after).
int WarmStartupsObserved() {
  std::string text = metrics::Registry::Default().Render();
  int total = 0;
  for (size_t at = 0;
       (at = text.find("agent_sandbox_claim_startup_latency_ms_count{", at)) != std::string::npos;
       ++at) {
    size_t eol = text.find('\n', at);
    std::string line = text.substr(at, eol - at);
    if (line.find("launch_type=\"warm\"") == std::string::npos) continue;
    total += std::stoi(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

// The warm path is one write: the claim's Ready status, the claim's Sandbox, the pod's new owner
// and the member's delete at consecutive revisions (one commit), before anything else; a second
// reconcile writes nothing. The claim's event comes first (its watchers wake before the
// controllers' and the node's) and the member's last (it wakes the pool's refill).
TEST_F(ClaimReconcilerTest, WarmAdoptionIsOneWriteThatLeavesTheClaimReady) {
  Json member = MakeReadyMember(*store_, "m1");
  ASSERT_OK(store_->Create(api::SandboxClaimResource(), ClaimObj("c1", "tmpl")));
  const int64_t r0 = store_->CurrentRevision();
  std::vector<std::unique_ptr<store::Watcher>> watches;
  for (const api::ResourceInfo* r :
       {&api::SandboxResource(), &api::PodResource(), &api::ServiceResource(),
        &api::SandboxClaimResource(), &api::EventResource()}) {
    ASSERT_OK_AND_ASSIGN(auto w, store_->Watch(*r, "default", {.resource_version = r0}));
    watches.push_back(std::move(w));
  }
  const int warm_seen = WarmStartupsObserved();
  ClaimReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/c1"));
  // Its startup latency is observed once, though the status was written by the adoption's write.
  EXPECT_EQ(WarmStartupsObserved(), warm_seen + 1);

  std::map<int64_t, std::string> events;  // revision -> "TYPE Kind/name"
  for (auto& w : watches) {
    while (true) {
      ASSERT_OK_AND_ASSIGN(auto ev, w->Next(milliseconds(20)));
      if (!ev) break;
      events[ev->resource_version] = std::string(store::EventTypeName(ev->type)) + " " +
                                     GetString(ev->object, "kind") + "/" +
                                     GetString(ev->object, "metadata.name");
    }
  }
  ASSERT_EQ(events.size(), 6u);
  std::vector<std::string> order;
  for (const auto& [rev, what] : events) order.push_back(what);
  EXPECT_EQ(events.begin()->first, r0 + 1);
  EXPECT_EQ(events.rbegin()->first, r0 + 6);
  ASSERT_EQ(order.size(), 6u);
  EXPECT_EQ(order[5].rfind("ADDED Event/c1.", 0), 0u) << order[5];  // recorded after the write
  order.pop_back();
  // (The pod's labels and the Service are what the new Sandbox's first reconcile would write.)
  EXPECT_EQ(order, (std::vector<std::string>{"MODIFIED SandboxClaim/c1", "ADDED Sandbox/c1",
                                             "MODIFIED Pod/m1", "ADDED Service/c1",
                                             "DELETED Sandbox/m1"}));

  auto claim = Get(api::SandboxClaimResource(), "c1");
  ASSERT_TRUE(claim);
  EXPECT_EQ(Ready("c1")["status"], "True");
  EXPECT_EQ(GetString(*claim, "status.sandbox.name"), "c1");
  auto sb = Get(api::SandboxResource(), "c1");
  ASSERT_TRUE(sb);
  EXPECT_TRUE(IsControlledBy(*sb, *claim));
  EXPECT_TRUE(ConditionTrue(*sb, kCondReady));
  EXPECT_EQ(Annotation(*sb, kAnnotationPodName), "m1");
  auto pod = Get(api::PodResource(), "m1");
  ASSERT_TRUE(pod);
  EXPECT_TRUE(IsControlledBy(*pod, *sb));
  EXPECT_EQ(Label(*pod, kLabelSandboxNameHash), NameHash("c1"));
  EXPECT_FALSE(Label(*pod, kLabelWarmPoolSandbox));
  EXPECT_FALSE(Get(api::SandboxResource(), "m1"));

  // The Sandbox's own reconcile has no pod or Service write left to do (this member's status is
  // not a real one, so its status write is not checked here); the claim's next reconcile writes
  // nothing.
  auto svc = Get(api::ServiceResource(), "c1");
  ASSERT_TRUE(svc);
  SandboxPlan plan = PlanSandbox(*sb, *pod, *svc, clock_.Now(), {});
  EXPECT_FALSE(plan.update_pod);
  EXPECT_FALSE(plan.create_service);
  const int64_t after = store_->CurrentRevision();
  ASSERT_OK(r.Reconcile("default/c1"));
  EXPECT_EQ(store_->CurrentRevision(), after) << "a second reconcile wrote something";
}

// A member another claim took (or the pool changed) after it was read fails the whole take-over
// (kAborted, which sends AdoptWarm to the next candidate): nothing of it is written.
TEST_F(ClaimReconcilerTest, AStaleMemberAbortsTheWholeTakeOver) {
  Json stale = MakeReadyMember(*store_, "m1");
  Json touched = stale;
  SetLabel(touched, "touched", "yes");
  ASSERT_OK(store_->Update(api::SandboxResource(), touched));
  ASSERT_OK_AND_ASSIGN(Json claim,
                       store_->Create(api::SandboxClaimResource(), ClaimObj("c1", "tmpl")));
  const int64_t r0 = store_->CurrentRevision();
  Status st = store_->Transact([&](store::Txn& txn) -> Status {
    ASB_ASSIGN_OR_RETURN(Json sb,
                         TakeOverMember(txn, stale, TakeOverSandbox(stale, claim), clock_.Now()));
    (void)sb;
    return OkStatus();
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kAborted);
  EXPECT_EQ(store_->CurrentRevision(), r0);
  EXPECT_FALSE(Get(api::SandboxResource(), "c1"));
  ASSERT_TRUE(Get(api::SandboxResource(), "m1"));
  EXPECT_TRUE(IsControlledBy(*Get(api::PodResource(), "m1"), *Get(api::SandboxResource(), "m1")));
}

// An older asbd adopted members in steps: the member moved under the claim first, then the
// claim's Sandbox was created and the pod moved. A state dir it left between those steps is
// finished in one write.
TEST_F(ClaimReconcilerTest, FinishesAMoveAnOlderAsbdLeftHalfDone) {
  Json member = MakeReadyMember(*store_, "m1");
  ASSERT_OK_AND_ASSIGN(Json claim,
                       store_->Create(api::SandboxClaimResource(), ClaimObj("c1", "tmpl")));
  ASSERT_OK(store_->Update(api::SandboxResource(), AdoptedSandbox(member, claim)));
  ClaimReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/c1"));
  auto sb = Get(api::SandboxResource(), "c1");
  ASSERT_TRUE(sb);
  EXPECT_TRUE(IsControlledBy(*sb, claim));
  auto pod = Get(api::PodResource(), "m1");
  ASSERT_TRUE(pod);
  EXPECT_TRUE(IsControlledBy(*pod, *sb));
  EXPECT_FALSE(Get(api::SandboxResource(), "m1"));
  EXPECT_EQ(GetString(*Get(api::SandboxClaimResource(), "c1"), "status.sandbox.name"), "c1");
}

TEST_F(ClaimReconcilerTest, ForeignSandboxWithClaimNameIsReported) {
  ASSERT_OK(store_->Create(api::SandboxResource(), SandboxObj("c1")));
  ASSERT_OK(store_->Create(api::SandboxClaimResource(), ClaimObj("c1", "tmpl")));
  ClaimReconciler r(*store_, clock_, {});
  ASSERT_OK_AND_ASSIGN(Requeue q, r.Reconcile("default/c1"));
  EXPECT_EQ(q.after, Duration(std::chrono::seconds(1)));  // retried: it may be GC lag
  EXPECT_EQ(Ready("c1")["reason"], "ReconcilerError");
  EXPECT_NE(GetString(Ready("c1"), "message").find("not owned"), std::string::npos);
}

TEST(ManagerRelistTest, ConvergesWhenWatchesFallBehind) {
  // A one-event watcher buffer forces kGone on every burst: the manager must re-list and still
  // converge.
  store::ObjectStoreOptions so;
  so.watcher_buffer = 1;
  auto opened = store::MemoryStore::Open(so);
  ASSERT_TRUE(opened);
  auto& s = **opened;
  FakeNode node(s);
  ControllerManager mgr(s, RealClock::Get(), {});
  ASSERT_OK(mgr.Start());
  ASSERT_OK(s.Create(api::SandboxTemplateResource(), TemplateObj("t")));
  ASSERT_OK(s.Create(api::SandboxWarmPoolResource(), PoolObj("p", "t", 8)));
  for (int i = 0; i < 4; ++i)
    ASSERT_OK(s.Create(api::SandboxClaimResource(), ClaimObj("c" + std::to_string(i), "t")));
  EXPECT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 4; ++i) {
          auto c = s.Get(api::SandboxClaimResource(), "default", "c" + std::to_string(i));
          if (!c || !ConditionTrue(*c, kCondReady)) return false;
        }
        auto p = s.Get(api::SandboxWarmPoolResource(), "default", "p");
        const Json* r = p ? Find(*p, "status.readyReplicas") : nullptr;
        return r && *r == 8;
      },
      seconds(20)));
}

}  // namespace
}  // namespace asb::controller

namespace asb::controller {
namespace {

TEST_F(ClaimReconcilerTest, DeletedSandboxIsReportedNotReplaced) {
  ASSERT_OK(store_->Create(api::SandboxClaimResource(), ClaimObj("c1", "tmpl")));
  ClaimReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/c1"));
  ASSERT_TRUE(Get(api::SandboxResource(), "c1"));
  ASSERT_OK(store_->Delete(api::SandboxResource(), "default", "c1"));
  ASSERT_OK(r.Reconcile("default/c1"));
  EXPECT_FALSE(Get(api::SandboxResource(), "c1"));
  EXPECT_EQ(Ready("c1")["reason"], "SandboxMissing");
}

}  // namespace
}  // namespace asb::controller

namespace asb::controller {
namespace {

TEST_F(ManagerTest, PoolCreatedBeforeItsTemplateFillsWhenTemplateAppears) {
  ASSERT_OK(store_->Create(api::SandboxWarmPoolResource(), PoolObj("early", "late-tmpl", 2)));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = Get(api::SandboxWarmPoolResource(), "early");
        return p && Find(*p, "status.replicas") && (*p)["status"]["replicas"] == 0;
      },
      seconds(5)));
  ASSERT_OK(store_->Create(api::SandboxTemplateResource(), TemplateObj("late-tmpl")));
  EXPECT_TRUE(WaitFor([&] { return PoolReady("early") == 2; }, seconds(5)));
}

TEST_F(ManagerTest, SuspendAndResumeThroughTheManager) {
  ASSERT_OK(store_->Create(api::SandboxResource(), SandboxObj("sb")));
  auto ready = [&] {
    auto sb = Get(api::SandboxResource(), "sb");
    return sb && ConditionTrue(*sb, kCondReady);
  };
  ASSERT_TRUE(WaitFor(ready, seconds(5)));
  auto sb = Get(api::SandboxResource(), "sb");
  (*sb)["spec"]["replicas"] = 0;
  ASSERT_OK(store_->Update(api::SandboxResource(), *sb));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = Get(api::SandboxResource(), "sb");
        const Json* r = s ? FindCondition(*s, kCondReady) : nullptr;
        return r && GetString(*r, "message") == "suspended" && !Get(api::PodResource(), "sb");
      },
      seconds(5)));
  sb = Get(api::SandboxResource(), "sb");
  (*sb)["spec"]["replicas"] = 1;
  ASSERT_OK(store_->Update(api::SandboxResource(), *sb));
  EXPECT_TRUE(WaitFor(ready, seconds(5)));
}

}  // namespace
}  // namespace asb::controller

namespace asb::controller {
namespace {

TEST(ClaimPlanTest, ExpiryIsEarlierOfShutdownTimeAndFinishedTtl) {
  Json c = Claim();
  EXPECT_FALSE(ClaimExpiry(c));
  c["spec"]["lifecycle"] = {{"shutdownTime", FormatRfc3339(kT0 + seconds(100))},
                            {"ttlSecondsAfterFinished", 10}};
  EXPECT_EQ(ClaimExpiry(c), kT0 + seconds(100));
  c["status"]["conditions"] = Json::array(
      {{{"type", "Finished"}, {"status", "True"}, {"lastTransitionTime", FormatRfc3339(kT0)}}});
  EXPECT_EQ(ClaimExpiry(c), kT0 + seconds(10));
  c["spec"]["lifecycle"].erase("shutdownTime");
  EXPECT_EQ(ClaimExpiry(c), kT0 + seconds(10));
}

}  // namespace
}  // namespace asb::controller
