#include "controller/sandbox_reconciler.h"

#include <gtest/gtest.h>

#include "controller/conditions.h"
#include "controller/object_util.h"
#include "tests/testing/controller_fixtures.h"

namespace asb::controller {
namespace {

using namespace asb::controller::testing;  // NOLINT
using std::chrono::seconds;

using SandboxReconcilerTest = ControllerTest;

TEST_F(SandboxReconcilerTest, CreatesOwnedPodAndServiceAndMirrorsReadiness) {
  ASSERT_OK(store_->Create(api::SandboxResource(), SandboxObj("sb-1")));
  SandboxReconciler r(*store_, clock_, SandboxOptions{.node_name = "node-a"});
  ASSERT_OK_AND_ASSIGN(Requeue q, r.Reconcile("default/sb-1"));
  EXPECT_FALSE(q.after);

  Json sb = Get(api::SandboxResource(), "sb-1");
  Json pod = Get(api::PodResource(), "sb-1");
  ASSERT_FALSE(pod.is_null());
  EXPECT_EQ(Label(pod, kLabelSandboxNameHash), NameHash("sb-1"));
  EXPECT_EQ(Label(pod, "sandbox"), "python-sandbox-example");
  EXPECT_TRUE(IsControlledBy(pod, sb));
  EXPECT_EQ(GetString(pod, "spec.nodeName"), "node-a");
  EXPECT_EQ(Annotation(sb, kAnnotationPodName), "sb-1");
  Json svc = Get(api::ServiceResource(), "sb-1");
  EXPECT_TRUE(IsControlledBy(svc, sb));
  EXPECT_EQ(GetString(svc, "spec.clusterIP"), "None");
  EXPECT_EQ(GetString(sb, "status.serviceFQDN"), "sb-1.default.svc.cluster.local");
  EXPECT_EQ(GetString(sb, "status.selector"),
            "agents.x-k8s.io/sandbox-name-hash=" + NameHash("sb-1"));
  EXPECT_EQ(ReadyCond("sb-1")["status"], "False");
  EXPECT_EQ(ReadyCond("sb-1")["reason"], "DependenciesNotReady");

  // The node reports the pod Running and Ready (no pod IP in embedded mode).
  ASSERT_OK(SetPodStatus(*store_, "sb-1", "Running", true));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_EQ(ReadyCond("sb-1")["status"], "True");
  EXPECT_EQ(ReadyCond("sb-1")["reason"], "DependenciesReady");

  // Status is only written when it changes.
  std::string rv = GetString(Get(api::SandboxResource(), "sb-1"), "metadata.resourceVersion");
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_EQ(GetString(Get(api::SandboxResource(), "sb-1"), "metadata.resourceVersion"), rv);

  ASSERT_OK(SetPodStatus(*store_, "sb-1", "Failed", false));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_EQ(ReadyCond("sb-1")["reason"], "PodFailed");
}

TEST_F(SandboxReconcilerTest, ReplicasZeroSuspendsAndOneResumes) {
  ASSERT_OK(store_->Create(api::SandboxResource(), SandboxObj("sb-1")));
  SandboxReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/sb-1"));
  ASSERT_TRUE(Exists(api::PodResource(), "sb-1"));

  Json sb = Get(api::SandboxResource(), "sb-1");
  sb["spec"]["replicas"] = 0;
  ASSERT_OK(store_->Update(api::SandboxResource(), sb));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_FALSE(Exists(api::PodResource(), "sb-1"));
  EXPECT_TRUE(Exists(api::SandboxResource(), "sb-1"));
  ASSERT_OK(r.Reconcile("default/sb-1"));  // observes the pod gone
  EXPECT_EQ(ReadyCond("sb-1")["reason"], "SandboxSuspended");
  EXPECT_EQ(ReadyCond("sb-1")["message"], "suspended");
  EXPECT_EQ(FindCondition(Get(api::SandboxResource(), "sb-1"), kCondPodScheduled), nullptr);

  sb = Get(api::SandboxResource(), "sb-1");
  sb["spec"]["replicas"] = 1;
  ASSERT_OK(store_->Update(api::SandboxResource(), sb));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_TRUE(Exists(api::PodResource(), "sb-1"));
  ASSERT_OK(SetPodStatus(*store_, "sb-1", "Running", true));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_EQ(ReadyCond("sb-1")["status"], "True");
  EXPECT_NE(FindCondition(Get(api::SandboxResource(), "sb-1"), kCondPodScheduled), nullptr);
  // operatingMode (v1beta1) suspends too.
  sb = Get(api::SandboxResource(), "sb-1");
  sb["spec"].erase("replicas");
  sb["spec"]["operatingMode"] = "Suspended";
  ASSERT_OK(store_->Update(api::SandboxResource(), sb));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_FALSE(Exists(api::PodResource(), "sb-1"));
}

TEST_F(SandboxReconcilerTest, ExpiryRetainKeepsObjectDeletesPodAndService) {
  ASSERT_OK(store_->Create(
      api::SandboxResource(),
      SandboxObj("sb-1", {{"shutdownTime", FormatRfc3339(clock_.Now() + seconds(60))}})));
  SandboxReconciler r(*store_, clock_, {});
  ASSERT_OK_AND_ASSIGN(Requeue q, r.Reconcile("default/sb-1"));
  ASSERT_TRUE(q.after);
  EXPECT_GE(*q.after, seconds(59));
  EXPECT_LE(*q.after, seconds(61));
  ASSERT_TRUE(Exists(api::PodResource(), "sb-1"));

  clock_.Advance(seconds(61));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_FALSE(Exists(api::PodResource(), "sb-1"));
  EXPECT_FALSE(Exists(api::ServiceResource(), "sb-1"));
  EXPECT_TRUE(Exists(api::SandboxResource(), "sb-1"));
  EXPECT_EQ(ReadyCond("sb-1")["reason"], "SandboxExpired");
  EXPECT_FALSE(Get(api::SandboxResource(), "sb-1")["status"].contains("serviceFQDN"));
  ASSERT_OK(r.Reconcile("default/sb-1"));  // stays expired, nothing recreated
  EXPECT_FALSE(Exists(api::PodResource(), "sb-1"));
}

TEST_F(SandboxReconcilerTest, ExpiryDeletePolicyDeletesSandbox) {
  ASSERT_OK(
      store_->Create(api::SandboxResource(),
                     SandboxObj("sb-1", {{"shutdownTime", FormatRfc3339(clock_.Now() + seconds(5))},
                                         {"shutdownPolicy", "Delete"}})));
  SandboxReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/sb-1"));
  clock_.Advance(seconds(5));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_FALSE(Exists(api::SandboxResource(), "sb-1"));
  EXPECT_TRUE(
      asb::testing::WaitFor([&] { return !Exists(api::PodResource(), "sb-1"); }, seconds(5)));
}

TEST_F(SandboxReconcilerTest, ServiceFalseDeletesOwnedService) {
  ASSERT_OK(store_->Create(api::SandboxResource(), SandboxObj("sb-1")));
  SandboxReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/sb-1"));
  ASSERT_TRUE(Exists(api::ServiceResource(), "sb-1"));
  Json sb = Get(api::SandboxResource(), "sb-1");
  sb["spec"]["service"] = false;
  ASSERT_OK(store_->Update(api::SandboxResource(), sb));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_FALSE(Exists(api::ServiceResource(), "sb-1"));
  ASSERT_OK(SetPodStatus(*store_, "sb-1", "Running", true));
  ASSERT_OK(r.Reconcile("default/sb-1"));
  EXPECT_EQ(ReadyCond("sb-1")["status"], "True");
  EXPECT_FALSE(Get(api::SandboxResource(), "sb-1")["status"].contains("serviceFQDN"));
}

TEST_F(SandboxReconcilerTest, DeletingSandboxCascadesToPod) {
  ASSERT_OK(store_->Create(api::SandboxResource(), SandboxObj("sb-1")));
  SandboxReconciler r(*store_, clock_, {});
  ASSERT_OK(r.Reconcile("default/sb-1"));
  ASSERT_OK(store_->Delete(api::SandboxResource(), "default", "sb-1"));
  EXPECT_TRUE(asb::testing::WaitFor(
      [&] {
        return !Exists(api::PodResource(), "sb-1") && !Exists(api::ServiceResource(), "sb-1");
      },
      seconds(5)));
  ASSERT_OK(r.Reconcile("default/sb-1"));  // gone: no-op
}

}  // namespace
}  // namespace asb::controller
