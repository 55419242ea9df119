// The scheduler's volume filter over the memory store: a pod goes where its node-local volume is.
#include "cmd/asbd/scheduler_volumes.h"

#include <gtest/gtest.h>

#include "api/storage.h"
#include "storage/provisioner.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::asbd {
namespace {

Json PodUsing(const std::vector<std::string>& claims) {
  Json vols = Json::array();
  for (const auto& c : claims)
    vols.push_back({{"name", c}, {"persistentVolumeClaim", {{"claimName", c}}}});
  return {{"metadata", {{"name", "p"}, {"namespace", "default"}}}, {"spec", {{"volumes", vols}}}};
}

Json Claim(const std::string& name, const std::string& volume, const std::string& selected) {
  Json c = {{"apiVersion", "v1"},
            {"kind", "PersistentVolumeClaim"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"resources", {{"requests", {{"storage", "1Mi"}}}}}}}};
  if (!volume.empty()) c["spec"]["volumeName"] = volume;
  if (!selected.empty()) c["metadata"]["annotations"][storage::kSelectedNodeAnnotation] = selected;
  return c;
}

Json Volume(const std::string& name, const std::string& node) {
  Json expr = {{"key", "kubernetes.io/hostname"}, {"operator", "In"}, {"values", {node}}};
  return {
      {"apiVersion", "v1"},
      {"kind", "PersistentVolume"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"capacity", {{"storage", "1Mi"}}},
        {"nodeAffinity",
         {{"required", {{"nodeSelectorTerms", Json::array({{{"matchExpressions", {expr}}}})}}}}}}}};
}

std::vector<std::string> Names(const std::vector<NodeCapacity>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.name);
  return out;
}

TEST(SchedulerVolumesTest, PinnedClaimsLeaveOnlyTheirNode) {
  auto opened = store::MemoryStore::Open();
  ASSERT_TRUE(opened);
  store::Store& store = **opened;
  std::vector<NodeCapacity> all(2);
  all[0].name = "node-a";
  all[1].name = "node-b";
  ASSERT_OK(store.Create(api::PersistentVolumeResource(), Volume("pv-b", "node-b")));
  ASSERT_OK(store.Create(api::PersistentVolumeClaimResource(), Claim("bound", "pv-b", "")));
  ASSERT_OK(store.Create(api::PersistentVolumeClaimResource(), Claim("fresh", "", "")));
  ASSERT_OK(store.Create(api::PersistentVolumeClaimResource(), Claim("chosen", "", "node-a")));
  std::vector<NodeCapacity> scratch;
  std::map<std::string, int> reasons;

  // No claims, or none provisioned or selected yet: every candidate, no copy.
  EXPECT_EQ(&VolumeCandidates(store, PodUsing({}), all, &scratch, &reasons), &all);
  EXPECT_EQ(&VolumeCandidates(store, PodUsing({"fresh", "missing"}), all, &scratch, &reasons),
            &all);
  EXPECT_TRUE(reasons.empty());
  // Bound to node-b's volume; selected for node-a while its volume is made.
  EXPECT_EQ(Names(VolumeCandidates(store, PodUsing({"bound"}), all, &scratch, &reasons)),
            std::vector<std::string>{"node-b"});
  EXPECT_EQ(reasons["node(s) had volume node affinity conflict"], 1);
  EXPECT_EQ(Names(VolumeCandidates(store, PodUsing({"fresh", "chosen"}), all, &scratch, &reasons)),
            std::vector<std::string>{"node-a"});
  // Two claims on two nodes: no node has both.
  reasons.clear();
  EXPECT_TRUE(
      VolumeCandidates(store, PodUsing({"bound", "chosen"}), all, &scratch, &reasons).empty());
  EXPECT_EQ(reasons["node(s) had volume node affinity conflict"], 2);
}

}  // namespace
}  // namespace asb::asbd
