// The node-local provisioner with its real parts: a store, mkfs.ext4, loop devices and ext4
// mounts in a temporary state dir. Root only (loop devices and mounts).
#include "storage/provisioner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "api/storage.h"
#include "base/file_util.h"
#include "controller/object_util.h"
#include "runtime/runtime.h"
#include "storage/volume_binds.h"
#include "sys/disk.h"
#include "tests/testing/controller_fixtures.h"
#include "tests/testing/test_util.h"

namespace asb::storage {
namespace {

using namespace std::chrono_literals;

Json Claim(const std::string& name, const std::string& size, const std::string& cls = "") {
  Json spec = {{"accessModes", Json::array({"ReadWriteOnce"})},
               {"resources", {{"requests", {{"storage", size}}}}}};
  if (!cls.empty()) spec["storageClassName"] = cls;
  return {{"metadata", {{"name", name}, {"namespace", "default"}}}, {"spec", spec}};
}

int MountsOf(const std::string& path) {
  auto info = ReadFile("/proc/self/mountinfo");
  int n = 0;
  if (!info) return n;
  for (size_t at = info->find(" " + path + " "); at != std::string::npos;
       at = info->find(" " + path + " ", at + 1))
    ++n;
  return n;
}

class ProvisionerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "SKIPPED LOUDLY: loop devices and mounts need root";
    store_ = controller::testing::OpenStore(&RealClock::Get());
    ASSERT_TRUE(store_);
    volumes_ = std::make_unique<LocalVolumes>(dir_.path());
  }
  Json Get(const api::ResourceInfo& r, const std::string& ns, const std::string& name) {
    auto o = store_->Get(r, ns, name);
    return o ? *o : Json();
  }
  Json WaitBound(const std::string& name) {
    Json pvc;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          pvc = Get(api::PersistentVolumeClaimResource(), "default", name);
          return GetString(pvc, "status.phase") == "Bound";
        },
        10s))
        << pvc;
    return pvc;
  }
  std::vector<std::string> EventReasons(const std::string& name) {
    std::vector<std::string> out;
    auto list = store_->List(api::EventResource(), "default", store::ListOptions{});
    if (list)
      for (const auto& e : list->items)
        if (GetString(e, "involvedObject.name") == name)
          out.push_back(GetString(e, "reason") + ": " + GetString(e, "message"));
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<LocalVolumes> volumes_;
};

TEST_F(ProvisionerTest, BindsMountsEnforcesTheSizeAndDeletesEverything) {
  LocalProvisioner p(*store_, *volumes_, RealClock::Get());
  ASSERT_OK(p.Start());
  Json sc = Get(api::StorageClassResource(), "", kDefaultClassName);
  ASSERT_TRUE(api::IsDefaultClass(sc)) << sc;
  EXPECT_EQ(GetString(sc, "volumeBindingMode"), "Immediate");

  ASSERT_OK(store_->Create(api::PersistentVolumeClaimResource(), Claim("data", "32Mi")));
  Json pvc = WaitBound("data");
  EXPECT_EQ(GetString(pvc, "spec.storageClassName"), kDefaultClassName);  // default assigned
  EXPECT_EQ(GetString(pvc, "status.capacity.storage"), "32Mi");
  const std::string pv_name = GetString(pvc, "spec.volumeName");
  ASSERT_EQ(pv_name, "pvc-" + GetString(pvc, "metadata.uid"));
  Json pv = Get(api::PersistentVolumeResource(), "", pv_name);
  EXPECT_EQ(GetString(pv, "spec.claimRef.name"), "data");
  EXPECT_EQ(GetString(pv, "spec.persistentVolumeReclaimPolicy"), "Delete");
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return GetString(Get(api::PersistentVolumeResource(), "", pv_name), "status.phase") ==
               "Bound";
      },
      5s));
  const std::string image = volumes_->ImagePath(pv_name);
  struct stat st {};
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 32 << 20);
  EXPECT_LT(st.st_blocks * 512, 8 << 20);  // sparse: mkfs wrote only metadata

  // A pod mounting it gets a bind of the host mount; a second start reuses that mount.
  Json pod = {
      {"metadata", {{"name", "p"}, {"namespace", "default"}}},
      {"spec",
       {{"volumes",
         Json::array({{{"name", "v"}, {"persistentVolumeClaim", {{"claimName", "data"}}}}})},
        {"containers",
         Json::array(
             {{{"name", "c"},
               {"volumeMounts",
                Json::array({{{"name", "v"}, {"mountPath", "/data"}, {"readOnly", true}}})}}})}}}};
  ASSERT_OK_AND_ASSIGN(std::vector<runtime::BindMount> binds,
                       PodVolumeBinds(*store_, *volumes_, pod));
  ASSERT_EQ(binds.size(), 1u);
  EXPECT_EQ(binds[0].sandbox_path, "/data");
  EXPECT_TRUE(binds[0].read_only);
  EXPECT_TRUE(binds[0].sandbox_owned);
  const std::string mnt = binds[0].host_path;
  EXPECT_EQ(mnt, volumes_->MountPath(pv_name));
  ASSERT_OK(PodVolumeBinds(*store_, *volumes_, pod));
  EXPECT_EQ(MountsOf(mnt), 1);
  EXPECT_NE(sys::FindLoopDevice(image), "");

  // ENOSPC at the claim's size, not before ~30 MiB and never past 32 MiB.
  UniqueFd f(::open((mnt + "/fill").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_TRUE(f);
  std::string chunk(1 << 20, 'x');
  int64_t written = 0;
  int err = 0;
  for (int i = 0; i < 64 && err == 0; ++i) {
    ssize_t n = ::write(f.get(), chunk.data(), chunk.size());
    if (n < 0)
      err = errno;
    else
      written += n;
    if (err == 0 && ::fsync(f.get()) != 0) err = errno;
  }
  EXPECT_EQ(err, ENOSPC);
  EXPECT_GT(written, int64_t{24} << 20);
  EXPECT_LE(written, int64_t{32} << 20);
  f.Reset();

  // A claim naming that volume in spec.volumeName is never bound to it, nor mounted from it.
  Json thief = Claim("thief", "32Mi");
  thief["spec"]["volumeName"] = pv_name;
  ASSERT_OK(store_->Create(api::PersistentVolumeClaimResource(), thief));
  EXPECT_TRUE(testing::WaitFor([&] { return !EventReasons("thief").empty(); }, 5s));
  EXPECT_NE(EventReasons("thief")[0].find("FailedBinding"), std::string::npos);
  Json thief_pod = pod;
  thief_pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = "thief";
  Json stolen = Get(api::PersistentVolumeClaimResource(), "default", "thief");
  EXPECT_NE(GetString(stolen, "status.phase"), "Bound");
  stolen["metadata"].erase("resourceVersion");
  stolen["status"] = {{"phase", "Bound"}};  // even a forged status doesn't get it mounted
  store::UpdateOptions so;
  so.status_only = true;
  ASSERT_OK(store_->Update(api::PersistentVolumeClaimResource(), stolen, so));
  auto refused = PodVolumeBinds(*store_, *volumes_, thief_pod);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not bound to a volume made for it"), std::string::npos);

  // Deleting the claim deletes the volume, its mount, loop device and image.
  ASSERT_OK(store_->Delete(api::PersistentVolumeClaimResource(), "default", "data"));
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return !store_->Get(api::PersistentVolumeResource(), "", pv_name) &&
               !PathExists(volumes_->root() + "/" + pv_name);
      },
      10s));
  EXPECT_EQ(MountsOf(mnt), 0);
  EXPECT_TRUE(testing::WaitFor([&] { return sys::FindLoopDevice(image).empty(); }, 5s));
}

TEST_F(ProvisionerTest, UnknownClassAndOversizedClaimsStayPendingWithAReason) {
  LocalProvisioner p(*store_, *volumes_, RealClock::Get(),
                     ProvisionerOptions{.max_volume_bytes = int64_t{1} << 30});
  ASSERT_OK(p.Start());
  ASSERT_OK(store_->Create(api::PersistentVolumeClaimResource(), Claim("a", "1Gi", "fast")));
  ASSERT_OK(store_->Create(api::PersistentVolumeClaimResource(), Claim("b", "2Gi")));
  EXPECT_TRUE(testing::WaitFor(
      [&] { return !EventReasons("a").empty() && !EventReasons("b").empty(); }, 5s));
  EXPECT_EQ(EventReasons("a")[0],
            "ProvisioningFailed: storageclass.storage.k8s.io \"fast\" not found");
  EXPECT_NE(EventReasons("b")[0].find("more than this node's maximum volume size 1Gi"),
            std::string::npos)
      << EventReasons("b")[0];
  EXPECT_EQ(GetString(Get(api::PersistentVolumeClaimResource(), "default", "a"), "status.phase"),
            "Pending");
  EXPECT_TRUE(volumes_->List().empty());

  // The class appears: the waiting claim is provisioned.
  Json sc = {{"metadata", {{"name", "fast"}}}, {"provisioner", kLocalProvisioner}};
  ASSERT_OK(store_->Create(api::StorageClassResource(), sc));
  WaitBound("a");
}

TEST_F(ProvisionerTest, StartSweepsVolumesNoPersistentVolumeNames) {
  // A crash between making the image (mounted, as for a running sandbox) and writing its PV.
  ASSERT_OK(volumes_->Create("pvc-orphan", 16 << 20));
  ASSERT_OK_AND_ASSIGN(std::string mnt, volumes_->Mount("pvc-orphan"));
  ASSERT_EQ(MountsOf(mnt), 1);
  const std::string image = volumes_->ImagePath("pvc-orphan");
  LocalProvisioner p(*store_, *volumes_, RealClock::Get());
  ASSERT_OK(p.Start());
  EXPECT_EQ(MountsOf(mnt), 0);
  EXPECT_FALSE(PathExists(volumes_->root() + "/pvc-orphan"));
  EXPECT_TRUE(testing::WaitFor([&] { return sys::FindLoopDevice(image).empty(); }, 5s));
}

Json PodUsing(const std::string& name, const std::string& claim, const std::string& node) {
  Json pod = {{"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec",
               {{"volumes",
                 Json::array({{{"name", "v"}, {"persistentVolumeClaim", {{"claimName", claim}}}}})},
                {"containers", Json::array({{{"name", "c"}}})}}}};
  if (!node.empty()) pod["spec"]["nodeName"] = node;
  return pod;
}

// Two nodes over one store (the split topology): a claim is made by the node its first
// consumer is bound to, once, and pinned there.
TEST_F(ProvisionerTest, WaitForFirstConsumerProvisionsOnTheConsumersNodeOnly) {
  testing::TempDir dir_b;
  LocalVolumes volumes_b(dir_b.path());
  LocalProvisioner a(*store_, *volumes_, RealClock::Get(),
                     {.node_name = "node-a", .wait_for_first_consumer = true});
  LocalProvisioner b(*store_, volumes_b, RealClock::Get(),
                     {.node_name = "node-b", .wait_for_first_consumer = true});
  ASSERT_OK(a.Start());
  ASSERT_OK(b.Start());
  EXPECT_EQ(GetString(Get(api::StorageClassResource(), "", kDefaultClassName), "volumeBindingMode"),
            "WaitForFirstConsumer");

  // An unbound consumer is not enough; binding it to node-b is.
  ASSERT_OK(store_->Create(api::PodResource(), PodUsing("p", "data", "")));
  ASSERT_OK(store_->Create(api::PersistentVolumeClaimResource(), Claim("data", "16Mi")));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return GetString(Get(api::PersistentVolumeClaimResource(), "default", "data"),
                         "status.phase") == "Pending";
      },
      5s));
  EXPECT_TRUE(Get(api::PersistentVolumeClaimResource(), "default", "data")["spec"]
                  .value("volumeName", "")
                  .empty());
  Json pod = Get(api::PodResource(), "default", "p");
  pod["spec"]["nodeName"] = "node-b";
  ASSERT_OK(store_->Update(api::PodResource(), pod));
  Json pvc = WaitBound("data");
  EXPECT_EQ(controller::Annotation(pvc, kSelectedNodeAnnotation).value_or(""), "node-b");
  const std::string pv_name = GetString(pvc, "spec.volumeName");
  Json pv = Get(api::PersistentVolumeResource(), "", pv_name);
  EXPECT_EQ(VolumeNodeAffinity(pv), "node-b") << pv;
  EXPECT_TRUE(PathExists(volumes_b.ImagePath(pv_name)));
  EXPECT_FALSE(PathExists(volumes_->root() + "/" + pv_name));
  auto pvs = store_->List(api::PersistentVolumeResource(), "", store::ListOptions{});
  ASSERT_TRUE(pvs);
  EXPECT_EQ(pvs->items.size(), 1u);

  // A claim selected for node-a is node-a's even when a pod on node-b uses it.
  Json other = Claim("other", "16Mi");
  other["metadata"]["annotations"][kSelectedNodeAnnotation] = "node-a";
  ASSERT_OK(store_->Create(api::PersistentVolumeClaimResource(), other));
  ASSERT_OK(store_->Create(api::PodResource(), PodUsing("q", "other", "node-b")));
  Json bound = WaitBound("other");
  EXPECT_EQ(VolumeNodeAffinity(
                Get(api::PersistentVolumeResource(), "", GetString(bound, "spec.volumeName"))),
            "node-a");
  EXPECT_TRUE(PathExists(volumes_->ImagePath(GetString(bound, "spec.volumeName"))));

  // Deleting the claim deletes the volume on its node.
  ASSERT_OK(store_->Delete(api::PersistentVolumeClaimResource(), "default", "data", {}));
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return !store_->Get(api::PersistentVolumeResource(), "", pv_name) &&
               !PathExists(volumes_b.root() + "/" + pv_name);
      },
      10s));
  b.Stop();
  a.Stop();
}

}  // namespace
}  // namespace asb::storage
