// MirrorPods over the memory store (the store's own semantics, no database): static pods and
// Service, workload pods with owner references and status, read-only repair, and cascading removal
// with the workload.
#include "cmd/asbd/mirror_pods.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::asbd {
namespace {

Json Workload(const std::string& kind, const std::string& ns, const std::string& name,
              const std::string& image, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec",
               {{"containers",
                 Json::array({{{"name", "c"},
                               {"image", image},
                               {"ports", Json::array({{{"containerPort", 8080}}})}}})}}}}}}}};
}

class MirrorPodsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::MemoryStore::Open();
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    for (const char* ns : {"default"}) {
      auto r = store_->Create(
          api::NamespaceResource(),
          {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
      (void)r;
    }
    mirror_ = std::make_unique<MirrorPods>(*store_, MirrorPodsOptions{});
  }
  std::vector<std::string> PodNames(const std::string& ns) {
    std::vector<std::string> out;
    auto l = store_->List(api::PodResource(), ns, {});
    for (const auto& p : l->items) out.push_back(GetString(p, "metadata.name"));
    return out;
  }
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<MirrorPods> mirror_;
};

TEST_F(MirrorPodsTest, StaticPodsAndRouterServiceExistFromTheStart) {
  ASSERT_TRUE(mirror_->Start());
  EXPECT_EQ(PodNames(kSystemNamespace),
            (std::vector<std::string>{"agent-sandbox-controller-0", "sandbox-router-asb-node"}));
  auto pod = store_->Get(api::PodResource(), kSystemNamespace, "agent-sandbox-controller-0");
  ASSERT_TRUE(pod);
  EXPECT_EQ(GetString(*pod, "status.phase"), "Running");
  EXPECT_EQ((*pod)["status"]["containerStatuses"][0]["ready"], true);
  EXPECT_EQ(MirrorComponent(*pod), api::EmbeddedComponent::kController);
  EXPECT_TRUE(store_->Get(api::ServiceResource(), kSystemNamespace, "sandbox-router-svc"));
  mirror_->Stop();
}

TEST_F(MirrorPodsTest, ServedWorkloadsGetOwnedPodsAndStatusOthersNone) {
  ASSERT_TRUE(mirror_->Start());
  auto router = store_->Create(
      api::DeploymentResource(),
      Workload("Deployment", "default", "r", "example.test/agent-sandbox/sandbox-router:v1", 2));
  ASSERT_TRUE(router);
  auto other = store_->Create(api::DeploymentResource(),
                              Workload("Deployment", "default", "web", "nginx:1", 3));
  ASSERT_TRUE(other);
  ASSERT_TRUE(mirror_->ReconcileOnce());
  std::vector<std::string> pods = PodNames("default");
  ASSERT_EQ(pods.size(), 2u);  // the router's two; nothing for nginx
  for (const auto& name : pods) {
    auto p = store_->Get(api::PodResource(), "default", name);
    ASSERT_TRUE(p);
    EXPECT_EQ(name.rfind("r-", 0), 0u) << name;
    EXPECT_EQ(GetString(*p, "metadata.labels.app"), "r");
    EXPECT_EQ(GetString((*p)["metadata"]["ownerReferences"][0], "uid"),
              GetString(*router, "metadata.uid"));
    EXPECT_EQ(MirrorComponent(*p), api::EmbeddedComponent::kRouter);
    EXPECT_EQ(GetString(*p, "status.phase"), "Running");
  }
  auto d = store_->Get(api::DeploymentResource(), "default", "r");
  EXPECT_EQ((*d)["status"]["availableReplicas"], 2);
  EXPECT_EQ(GetString((*d)["status"]["conditions"][0], "type"), "Available");
  EXPECT_EQ(GetString((*d)["status"]["conditions"][0], "status"), "True");
  auto web = store_->Get(api::DeploymentResource(), "default", "web");
  EXPECT_FALSE(web->contains("status") && (*web)["status"].contains("replicas"));

  // Read-only: a label a user changes and a pod a user deletes come back.
  Json edited = *store_->Get(api::PodResource(), "default", pods[0]);
  edited["metadata"]["labels"]["app"] = "hijacked";
  edited["metadata"].erase("resourceVersion");  // the reconcile loop may write meanwhile
  ASSERT_TRUE(store_->Update(api::PodResource(), edited));
  ASSERT_TRUE(store_->Delete(api::PodResource(), "default", pods[1]));
  ASSERT_TRUE(mirror_->ReconcileOnce());
  EXPECT_EQ(PodNames("default"), pods);
  EXPECT_EQ(GetString(*store_->Get(api::PodResource(), "default", pods[0]), "metadata.labels.app"),
            "r");
  mirror_->Stop();
}

TEST_F(MirrorPodsTest, ControllerStatefulSetTakesOverTheStaticPodAndGivesItBack) {
  ASSERT_TRUE(mirror_->Start());
  Json sts = Workload("StatefulSet", kSystemNamespace, "agent-sandbox-controller",
                      "ko://sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller", 1);
  auto created = store_->Create(api::StatefulSetResource(), sts);
  ASSERT_TRUE(created);
  ASSERT_TRUE(mirror_->ReconcileOnce());
  auto pod = store_->Get(api::PodResource(), kSystemNamespace, "agent-sandbox-controller-0");
  ASSERT_TRUE(pod);
  EXPECT_EQ(GetString((*pod)["metadata"]["ownerReferences"][0], "kind"), "StatefulSet");
  auto st = store_->Get(api::StatefulSetResource(), kSystemNamespace, "agent-sandbox-controller");
  EXPECT_EQ((*st)["status"]["readyReplicas"], 1);
  ASSERT_TRUE(
      store_->Delete(api::StatefulSetResource(), kSystemNamespace, "agent-sandbox-controller"));
  // The store's GC removes the owned pod asynchronously; the running loop (woken by the pod
  // watch) puts the static one back.
  ASSERT_TRUE(asb::testing::WaitFor([&] {
    auto p = store_->Get(api::PodResource(), kSystemNamespace, "agent-sandbox-controller-0");
    return p && !Find(*p, "metadata.ownerReferences") && !Find(*p, "metadata.deletionTimestamp");
  }));
  mirror_->Stop();
}

TEST(MirrorComponentTest, ImagesOfUpstreamComponentsWhateverTheRegistry) {
  using api::ComponentForImage;
  using api::EmbeddedComponent;
  EXPECT_EQ(ComponentForImage("example.test/agent-sandbox/agent-sandbox-controller:v0.1.0"),
            EmbeddedComponent::kController);
  EXPECT_EQ(ComponentForImage("ko://sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller"),
            EmbeddedComponent::kController);
  EXPECT_EQ(ComponentForImage("mirror:5000/x/agent-sandbox/sandbox-router@sha256:abc"),
            EmbeddedComponent::kRouter);
  EXPECT_EQ(ComponentForImage("sandbox-router:v1"), EmbeddedComponent::kNone);
  EXPECT_EQ(ComponentForImage("nginx"), EmbeddedComponent::kNone);
}
}  // namespace
}  // namespace asb::asbd
