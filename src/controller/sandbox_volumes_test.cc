// The Sandbox reconciler's volume claims (sandbox_volumes.h) against an in-memory store, and the
// claim-side merge of volumeClaimTemplates per the template's policy.
#include "controller/sandbox_volumes.h"

#include <gtest/gtest.h>

#include "api/storage.h"
#include "controller/conditions.h"
#include "controller/object_util.h"
#include "controller/sandbox_reconciler.h"
#include "tests/testing/controller_fixtures.h"

namespace asb::controller {
namespace {

using namespace asb::controller::testing;  // NOLINT

Json Vct(const std::string& name, const std::string& size = "1Gi") {
  return {{"metadata", {{"name", name}, {"labels", {{"team", "a"}}}}},
          {"spec",
           {{"accessModes", Json::array({"ReadWriteOnce"})},
            {"resources", {{"requests", {{"storage", size}}}}}}}};
}

class SandboxVolumesTest : public ControllerTest {
 protected:
  void Bind(const std::string& pvc_name) {
    Json pvc = Get(api::PersistentVolumeClaimResource(), pvc_name);
    pvc["status"] = {{"phase", "Bound"}};
    store::UpdateOptions o;
    o.status_only = true;
    ASSERT_OK(store_->Update(api::PersistentVolumeClaimResource(), pvc, o));
  }
};

TEST_F(SandboxVolumesTest, ClaimsComeFirstAndThePodMountsThemOnceBound) {
  Json sb =
      SandboxObj("sb-1", Json::object({{"volumeClaimTemplates", Json::array({Vct("data")})}}));
  // A template volume of the same name is replaced by the claim (StatefulSet semantics).
  sb["spec"]["podTemplate"]["spec"]["volumes"] =
      Json::array({{{"name", "data"}, {"emptyDir", Json::object()}},
                   {{"name", "other"}, {"emptyDir", Json::object()}}});
  ASSERT_OK(store_->Create(api::SandboxResource(), sb));
  SandboxReconciler r(*store_, clock_, SandboxOptions{});
  ASSERT_OK(r.Reconcile("default/sb-1"));

  Json pvc = Get(api::PersistentVolumeClaimResource(), "data-sb-1");
  ASSERT_FALSE(pvc.is_null());
  Json stored = Get(api::SandboxResource(), "sb-1");
  EXPECT_TRUE(IsControlledBy(pvc, stored));
  EXPECT_EQ(Label(pvc, "team"), "a");
  EXPECT_EQ(Label(pvc, kLabelSandboxNameHash), NameHash("sb-1"));
  EXPECT_EQ(GetString(pvc, "spec.resources.requests.storage"), "1Gi");
  // No pod until the claim is Bound; the Sandbox says what it waits for.
  EXPECT_TRUE(Get(api::PodResource(), "sb-1").is_null());
  EXPECT_EQ(ReadyCond("sb-1")["status"], "False");
  EXPECT_NE(GetString(ReadyCond("sb-1"), "message").find("data-sb-1 is Pending"), std::string::npos)
      << ReadyCond("sb-1");

  Bind("data-sb-1");
  ASSERT_OK(r.Reconcile("default/sb-1"));
  Json pod = Get(api::PodResource(), "sb-1");
  ASSERT_FALSE(pod.is_null());
  const Json& vols = pod["spec"]["volumes"];
  ASSERT_EQ(vols.size(), 2u) << vols;
  EXPECT_EQ(vols[0]["name"], "other");
  EXPECT_EQ(vols[1]["name"], "data");
  EXPECT_EQ(vols[1]["persistentVolumeClaim"]["claimName"], "data-sb-1");
}

// A claim of a WaitForFirstConsumer class is provisioned for its pod (asbd node): the pod is
// created while the claim is Pending, as a StatefulSet's is.
TEST_F(SandboxVolumesTest, APendingClaimOfAWaitForFirstConsumerClassDoesNotHoldThePod) {
  Json sc = {
      {"apiVersion", "storage.k8s.io/v1"},
      {"kind", "StorageClass"},
      {"metadata", {{"name", "local"}, {"annotations", {{api::kDefaultClassAnnotation, "true"}}}}},
      {"provisioner", "asb.dev/local"},
      {"volumeBindingMode", "WaitForFirstConsumer"}};
  ASSERT_OK(store_->Create(api::StorageClassResource(), sc));
  ASSERT_OK(store_->Create(
      api::SandboxResource(),
      SandboxObj("sb-w", Json::object({{"volumeClaimTemplates", Json::array({Vct("data")})}}))));
  SandboxReconciler r(*store_, clock_, SandboxOptions{});
  ASSERT_OK(r.Reconcile("default/sb-w"));  // creates the claim (no class named: the default's)
  ASSERT_OK(r.Reconcile("default/sb-w"));
  EXPECT_FALSE(Get(api::PersistentVolumeClaimResource(), "data-sb-w").is_null());
  Json pod = Get(api::PodResource(), "sb-w");
  ASSERT_FALSE(pod.is_null()) << ReadyCond("sb-w");
  EXPECT_EQ(pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "data-sb-w");
}

TEST_F(SandboxVolumesTest, UnownedClaimIsAdoptedOnlyWithTheTrackingLabel) {
  Json stranger = {{"metadata", {{"name", "data-sb-2"}, {"namespace", "default"}}},
                   {"spec", Vct("x")["spec"]}};
  ASSERT_OK(store_->Create(api::PersistentVolumeClaimResource(), stranger));
  ASSERT_OK(store_->Create(
      api::SandboxResource(),
      SandboxObj("sb-2", Json::object({{"volumeClaimTemplates", Json::array({Vct("data")})}}))));
  SandboxReconciler r(*store_, clock_, SandboxOptions{});
  auto failed = r.Reconcile("default/sb-2");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("cannot adopt unowned PersistentVolumeClaim"),
            std::string::npos);
  EXPECT_EQ(ReadyCond("sb-2")["reason"], "ReconcilerError");

  Json pvc = Get(api::PersistentVolumeClaimResource(), "data-sb-2");
  pvc["metadata"]["labels"] = {{std::string(kLabelSandboxNameHash), NameHash("sb-2")}};
  ASSERT_OK(store_->Update(api::PersistentVolumeClaimResource(), pvc));
  ASSERT_OK(r.Reconcile("default/sb-2"));
  EXPECT_TRUE(IsControlledBy(Get(api::PersistentVolumeClaimResource(), "data-sb-2"),
                             Get(api::SandboxResource(), "sb-2")));
}

TEST(MergeClaimVolumeTemplates, FollowsTheTemplatePolicy) {
  Json tmpl = {{"metadata", {{"name", "t"}}},
               {"spec", {{"volumeClaimTemplates", Json::array({Vct("workspace")})}}}};
  Json claim = {{"spec", {{"volumeClaimTemplates", Json::array({Vct("custom", "4Gi")})}}}};
  Json sb = {{"spec", {{"volumeClaimTemplates", tmpl["spec"]["volumeClaimTemplates"]}}}};

  // Disallowed (the default) refuses any.
  EXPECT_NE(
      MergeClaimVolumeTemplates(sb, claim, tmpl).find("volumeClaimTemplatesPolicy Disallowed"),
      std::string::npos);
  // Allowed appends new names, refuses overriding the template's.
  tmpl["spec"]["volumeClaimTemplatesPolicy"] = "Allowed";
  EXPECT_EQ(MergeClaimVolumeTemplates(sb, claim, tmpl), "");
  ASSERT_EQ(sb["spec"]["volumeClaimTemplates"].size(), 2u);
  EXPECT_EQ(sb["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "workspace");
  EXPECT_EQ(sb["spec"]["volumeClaimTemplates"][1]["metadata"]["name"], "custom");
  Json override_claim = {
      {"spec", {{"volumeClaimTemplates", Json::array({Vct("workspace", "9Gi")})}}}};
  EXPECT_NE(MergeClaimVolumeTemplates(sb, override_claim, tmpl).find("adds new names only"),
            std::string::npos);
  // Overrides replaces by name, in the template's order.
  tmpl["spec"]["volumeClaimTemplatesPolicy"] = "Overrides";
  EXPECT_EQ(MergeClaimVolumeTemplates(sb, override_claim, tmpl), "");
  ASSERT_EQ(sb["spec"]["volumeClaimTemplates"].size(), 1u);
  EXPECT_EQ(GetString(sb["spec"]["volumeClaimTemplates"][0], "spec.resources.requests.storage"),
            "9Gi");
}

}  // namespace
}  // namespace asb::controller
