#include "controller/sandbox_plan.h"

#include <gtest/gtest.h>

#include "controller/conditions.h"
#include "controller/object_util.h"

namespace asb::controller {
namespace {

using std::chrono::seconds;

const SystemTime kNow = SystemTime{} + std::chrono::hours(24 * 365 * 56);

Json Sandbox(Json spec_extra = Json::object()) {
  Json sb = {{"apiVersion", "agents.x-k8s.io/v1alpha1"},
             {"kind", "Sandbox"},
             {"metadata",
              {{"name", "sb-1"},
               {"namespace", "default"},
               {"uid", "uid-sb"},
               {"generation", 3},
               {"resourceVersion", "10"},
               {"labels", {{"agents.x-k8s.io/warm-pool-sandbox", "abc"}, {"team", "x"}}}}},
             {"spec",
              {{"podTemplate",
                {{"metadata",
                  {{"labels",
                    {{"app", "py"},
                     {"agents.x-k8s.io/sandbox-name-hash", "spoofed"},
                     {"agents.x-k8s.io/evil", "1"}}},
                   {"annotations", {{"note", "n"}, {"extensions.agents.x-k8s.io/x", "y"}}}}},
                 {"spec",
                  {{"containers",
                    Json::array({{{"name", "c"},
                                  {"image", "img"},
                                  {"ports", Json::array({{{"containerPort", 8888}}})}}})}}}}}}}};
  for (auto it = spec_extra.begin(); it != spec_extra.end(); ++it)
    sb["spec"][it.key()] = it.value();
  return sb;
}

Json OwnedPod(const Json& sb, std::string phase, bool ready) {
  SandboxOptions o;
  Json pod = BuildPod(sb, o);
  pod["metadata"]["uid"] = "uid-pod";
  pod["metadata"]["resourceVersion"] = "11";
  pod["status"] = {
      {"phase", phase},
      {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}};
  return pod;
}

Json OwnedService(const Json& sb) {
  Json svc = BuildService(sb);
  svc["metadata"]["uid"] = "uid-svc";
  return svc;
}

Json Cond(const Json& status, std::string_view type) {
  Json wrapped = {{"status", status}};
  const Json* c = FindCondition(wrapped, type);
  return c ? *c : Json::object();
}
Json Ready(const SandboxPlan& p) { return Cond(p.status, kCondReady); }

TEST(SandboxPlanTest, NameHashIsFnv1a32Hex) {
  EXPECT_EQ(NameHash(""), "811c9dc5");
  EXPECT_EQ(NameHash("a"), "e40c292c");
  EXPECT_EQ(NameHash("foobar"), "bf9cf968");
}

TEST(SandboxPlanTest, BuildPodPropagatesMetadataAndOwnsThePod) {
  SandboxOptions o;
  o.node_name = "node-1";
  Json pod = BuildPod(Sandbox(), o);
  EXPECT_EQ(GetString(pod, "metadata.name"), "sb-1");
  EXPECT_EQ(GetString(pod, "spec.nodeName"), "node-1");
  auto labels = Labels(pod);
  EXPECT_EQ(labels["app"], "py");
  EXPECT_EQ(labels["agents.x-k8s.io/sandbox-name-hash"], NameHash("sb-1"));  // not spoofable
  EXPECT_EQ(labels.count("agents.x-k8s.io/evil"), 0u);
  EXPECT_EQ(labels["agents.x-k8s.io/warm-pool-sandbox"], "abc");  // extension label
  EXPECT_EQ(labels.count("team"), 0u);  // sandbox's own labels are not pod labels
  auto ann = Annotations(pod);
  EXPECT_EQ(ann["note"], "n");
  EXPECT_EQ(ann.count("extensions.agents.x-k8s.io/x"), 0u);
  EXPECT_EQ(ann["agents.x-k8s.io/propagated-labels"], "app");
  EXPECT_EQ(ann["agents.x-k8s.io/propagated-annotations"], "note");
  auto ref = ControllerRef(pod);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->kind, "Sandbox");
  EXPECT_EQ(ref->uid, "uid-sb");
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], "img");
}

TEST(SandboxPlanTest, BuildServiceIsHeadlessWithDerivedPorts) {
  Json svc = BuildService(Sandbox());
  EXPECT_EQ(GetString(svc, "spec.clusterIP"), "None");
  EXPECT_EQ(svc["spec"]["selector"]["agents.x-k8s.io/sandbox-name-hash"], NameHash("sb-1"));
  ASSERT_EQ(svc["spec"]["ports"].size(), 1u);
  EXPECT_EQ(svc["spec"]["ports"][0]["name"], "p-8888-tcp");
}

TEST(SandboxPlanTest, NewSandboxCreatesPodServiceAndIsNotReady) {
  Json sb = Sandbox();
  SandboxPlan p = PlanSandbox(sb, std::nullopt, std::nullopt, kNow, {});
  ASSERT_TRUE(p.create_pod);
  ASSERT_TRUE(p.create_service);
  EXPECT_FALSE(p.delete_pod);
  ASSERT_TRUE(p.update_sandbox);  // pod-name annotation
  EXPECT_EQ(Annotation(*p.update_sandbox, kAnnotationPodName), "sb-1");
  EXPECT_EQ(Ready(p)["status"], "False");
  EXPECT_EQ(Ready(p)["reason"], "DependenciesNotReady");
  EXPECT_EQ(Ready(p)["observedGeneration"], 3);
  EXPECT_EQ(p.status["observedGeneration"], 3);
  EXPECT_EQ(p.status["serviceFQDN"], "sb-1.default.svc.cluster.local");
  EXPECT_EQ(p.status["selector"], "agents.x-k8s.io/sandbox-name-hash=" + NameHash("sb-1"));
  EXPECT_FALSE(p.requeue.after);
}

struct ReadyCase {
  std::string name;
  std::string phase;
  bool pod_ready;
  bool with_service;
  Json spec_extra;
  std::string status, reason, message;
};

class SandboxReadyTest : public ::testing::TestWithParam<ReadyCase> {};

TEST_P(SandboxReadyTest, ReadyMirrorsPodAndService) {
  const ReadyCase& c = GetParam();
  Json sb = Sandbox(c.spec_extra);
  SetAnnotation(sb, kAnnotationPodName, "sb-1");
  std::optional<Json> svc;
  if (c.with_service) svc = OwnedService(sb);
  SandboxPlan p = PlanSandbox(sb, OwnedPod(sb, c.phase, c.pod_ready), svc, kNow, {});
  EXPECT_EQ(Ready(p)["status"], c.status);
  EXPECT_EQ(Ready(p)["reason"], c.reason);
  EXPECT_EQ(Ready(p)["message"], c.message);
  EXPECT_FALSE(p.create_pod);
  EXPECT_FALSE(p.update_pod);
  EXPECT_FALSE(p.update_sandbox);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SandboxReadyTest,
    ::testing::Values(ReadyCase{"ready", "Running", true, true, Json::object(), "True",
                                "DependenciesReady", "Pod is Ready; Service Exists"},
                      ReadyCase{"running_not_ready", "Running", false, true, Json::object(),
                                "False", "DependenciesNotReady",
                                "Pod is Running but not Ready; Service Exists"},
                      ReadyCase{"pending", "Pending", false, true, Json::object(), "False",
                                "DependenciesNotReady", "Pod is Pending; Service Exists"},
                      ReadyCase{"succeeded", "Succeeded", false, true, Json::object(), "False",
                                "PodSucceeded", "Pod has completed successfully"},
                      ReadyCase{"failed", "Failed", false, true, Json::object(), "False",
                                "PodFailed", "Pod failed"},
                      ReadyCase{"no_service_wanted", "Running", true, false,
                                Json{{"service", false}}, "True", "DependenciesReady",
                                "Pod is Ready"},
                      ReadyCase{"suspended", "Running", true, true, Json{{"replicas", 0}}, "False",
                                "SandboxSuspended", "suspending"}),
    [](const auto& tp) { return tp.param.name; });

TEST(SandboxPlanTest, ReadySaysHowTheRuntimeServerEnded) {
  Json sb = Sandbox();
  SetAnnotation(sb, kAnnotationPodName, "sb-1");
  Json pod = OwnedPod(sb, "Succeeded", false);
  pod["status"]["containerStatuses"] =
      Json::array({{{"name", "python-runtime"},
                    {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}}});
  SandboxPlan p = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  EXPECT_EQ(Ready(p)["reason"], "PodSucceeded");
  EXPECT_EQ(Ready(p)["message"],
            "Pod has completed: container python-runtime exited with code 0 (Completed); its "
            "restartPolicy does not restart it, so this sandbox no longer serves (delete it or "
            "its claim for a new one)");
  // Restarting: the last exit and the back-off are named while the pod is not Ready.
  pod = OwnedPod(sb, "Running", false);
  pod["status"]["containerStatuses"] =
      Json::array({{{"name", "python-runtime"},
                    {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
                    {"lastState", {{"terminated", {{"exitCode", 143}, {"reason", "Error"}}}}}}});
  p = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  EXPECT_EQ(Ready(p)["message"],
            "Pod is Running but not Ready: container python-runtime exited with code 143 "
            "(Error), now CrashLoopBackOff; Service Exists");
  // Running again after a restart: the old exit is history, not a reason.
  pod["status"]["containerStatuses"][0]["state"] = {{"running", Json::object()}};
  p = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  EXPECT_EQ(Ready(p)["message"], "Pod is Running but not Ready; Service Exists");
}

TEST(SandboxPlanTest, ReadyKeepsTransitionTimeWhenUnchanged) {
  Json sb = Sandbox();
  SetAnnotation(sb, kAnnotationPodName, "sb-1");
  Json pod = OwnedPod(sb, "Running", true);
  SandboxPlan p1 = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  sb["status"] = p1.status;
  SandboxPlan p2 = PlanSandbox(sb, pod, OwnedService(sb), kNow + seconds(30), {});
  EXPECT_EQ(p1.status, p2.status);  // nothing to write
}

TEST(SandboxPlanTest, EmbeddedReadyDoesNotNeedPodIPsButMirrorsThem) {
  Json sb = Sandbox();
  SetAnnotation(sb, kAnnotationPodName, "sb-1");
  Json pod = OwnedPod(sb, "Running", true);
  SandboxPlan p = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  EXPECT_EQ(Ready(p)["status"], "True");
  EXPECT_FALSE(p.status.contains("podIPs"));
  pod["status"]["podIPs"] = Json::array({{{"ip", "10.0.0.5"}}});
  p = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  EXPECT_EQ(p.status["podIPs"], Json::array({"10.0.0.5"}));
  // v1beta1: PodScheduled while a pod exists (status.replicas is derived from it for v1alpha1).
  Json wrapped = {{"status", p.status}};
  const Json* sched = FindCondition(wrapped, kCondPodScheduled);
  ASSERT_NE(sched, nullptr);
  EXPECT_EQ(GetString(*sched, "status"), "Unknown");  // this pod names no node yet
}

TEST(SandboxPlanTest, SuspendDeletesPodAndResumeRecreates) {
  Json sb = Sandbox(Json{{"replicas", 0}});
  SetAnnotation(sb, kAnnotationPodName, "sb-1");
  SandboxPlan p = PlanSandbox(sb, OwnedPod(sb, "Running", true), OwnedService(sb), kNow, {});
  EXPECT_EQ(p.delete_pod, "sb-1");
  EXPECT_EQ(p.delete_pod_uid, "uid-pod");
  EXPECT_FALSE(p.delete_service);  // service survives suspension
  EXPECT_EQ(FindCondition(Json{{"status", p.status}}, kCondPodScheduled), nullptr);
  // Pod gone: suspended, annotation cleared.
  p = PlanSandbox(sb, std::nullopt, OwnedService(sb), kNow, {});
  EXPECT_FALSE(p.create_pod);
  EXPECT_EQ(Ready(p)["message"], "suspended");
  ASSERT_TRUE(p.update_sandbox);
  EXPECT_FALSE(Annotation(*p.update_sandbox, kAnnotationPodName));
  EXPECT_EQ(Cond(p.status, kCondSuspended)["status"], "True");
  // Resume.
  Json resumed = Sandbox(Json{{"replicas", 1}});
  resumed["status"] = p.status;
  p = PlanSandbox(resumed, std::nullopt, OwnedService(resumed), kNow, {});
  EXPECT_TRUE(p.create_pod);
  EXPECT_TRUE(Cond(p.status, kCondSuspended).empty());
}

TEST(SandboxPlanTest, ExpiryRetainDeletesPodAndServiceKeepsSandbox) {
  Json sb = Sandbox(Json{{"shutdownTime", FormatRfc3339(kNow - seconds(1))}});
  SandboxPlan p = PlanSandbox(sb, OwnedPod(sb, "Running", true), OwnedService(sb), kNow, {});
  EXPECT_TRUE(p.status_first);
  EXPECT_EQ(p.delete_pod, "sb-1");
  EXPECT_EQ(p.delete_service, "sb-1");
  EXPECT_FALSE(p.delete_sandbox);
  EXPECT_EQ(Ready(p)["reason"], "SandboxExpired");
  EXPECT_FALSE(p.status.contains("serviceFQDN"));
}

TEST(SandboxPlanTest, ExpiryDeletePolicyDeletesSandbox) {
  Json sb = Sandbox(Json{{"shutdownTime", FormatRfc3339(kNow)}, {"shutdownPolicy", "Delete"}});
  SandboxPlan p = PlanSandbox(sb, std::nullopt, std::nullopt, kNow, {});
  EXPECT_TRUE(p.delete_sandbox);
  EXPECT_FALSE(p.create_pod);
}

TEST(SandboxPlanTest, FutureShutdownRequeuesAtExpiry) {
  Json sb = Sandbox(Json{{"shutdownTime", FormatRfc3339(kNow + seconds(90))}});
  SandboxPlan p = PlanSandbox(sb, std::nullopt, std::nullopt, kNow, {});
  ASSERT_TRUE(p.requeue.after);
  EXPECT_GE(*p.requeue.after, seconds(90));
  EXPECT_LE(*p.requeue.after, seconds(91));
  EXPECT_TRUE(p.create_pod);
}

TEST(SandboxPlanTest, ForeignPodIsNotTouched) {
  Json sb = Sandbox();
  Json pod = {{"metadata", {{"name", "sb-1"}, {"namespace", "default"}, {"uid", "x"}}},
              {"status", {{"phase", "Running"}}}};
  SandboxPlan p = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  EXPECT_FALSE(p.create_pod);
  EXPECT_FALSE(p.update_pod);
  EXPECT_FALSE(p.delete_pod);
  EXPECT_EQ(Ready(p)["reason"], "ReconcilerError");
}

TEST(SandboxPlanTest, AdoptionSyncsPodLabelsWithoutTouchingOthers) {
  Json sb = Sandbox();
  SetAnnotation(sb, kAnnotationPodName, "sb-1");
  Json pod = OwnedPod(sb, "Running", true);
  SetLabel(pod, "node-added", "keep");
  // The claim controller moved the sandbox from the pool to a claim.
  RemoveLabel(sb, kLabelWarmPoolSandbox);
  SetLabel(sb, kLabelClaimUid, "claim-uid-1");
  SandboxPlan p = PlanSandbox(sb, pod, OwnedService(sb), kNow, {});
  ASSERT_TRUE(p.update_pod);
  auto labels = Labels(*p.update_pod);
  EXPECT_EQ(labels.count("agents.x-k8s.io/warm-pool-sandbox"), 0u);
  EXPECT_EQ(labels["agents.x-k8s.io/claim-uid"], "claim-uid-1");
  EXPECT_EQ(labels["node-added"], "keep");
  EXPECT_EQ(labels["app"], "py");
  EXPECT_EQ(GetString(*p.update_pod, "metadata.resourceVersion"), "11");
}

TEST(ConditionsTest, SetConditionReplacesAndTracksTransitions) {
  Json c = SetCondition(Json(), {"Ready", "False", "A", "m", 1}, kNow);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]["lastTransitionTime"], FormatRfc3339(kNow));
  Json c2 = SetCondition(c, {"Ready", "False", "B", "m2", 2}, kNow + seconds(5));
  EXPECT_EQ(c2[0]["lastTransitionTime"], FormatRfc3339(kNow));  // same status
  EXPECT_EQ(c2[0]["reason"], "B");
  Json c3 = SetCondition(c2, {"Ready", "True", "C", "", 2}, kNow + seconds(9));
  EXPECT_EQ(c3[0]["lastTransitionTime"], FormatRfc3339(kNow + seconds(9)));
  Json c4 = SetCondition(c3, {"Finished", "True", "PodSucceeded", "", 2}, kNow);
  EXPECT_EQ(c4.size(), 2u);
  EXPECT_EQ(RemoveCondition(c4, "Ready").size(), 1u);
}

}  // namespace
}  // namespace asb::controller

namespace asb::controller {
namespace {

TEST(SandboxPlanTest, NoContainersIsAnErrorNotAPod) {
  Json sb = Sandbox();
  sb["spec"]["podTemplate"]["spec"].erase("containers");
  SandboxPlan p = PlanSandbox(sb, std::nullopt, std::nullopt, kNow, {});
  EXPECT_FALSE(p.create_pod);
  EXPECT_EQ(Ready(p)["reason"], "ReconcilerError");
  EXPECT_NE(GetString(Ready(p), "message").find("containers"), std::string::npos);
}

}  // namespace
}  // namespace asb::controller
