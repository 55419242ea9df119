// The storage kinds' validation (api/storage.h), defaults and kubectl table rows.
#include "api/storage.h"

#include <gtest/gtest.h>

#include "api/table.h"
#include "api/validation.h"

namespace asb::api {
namespace {

Json Claim(Json spec) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", "c"}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

std::string Errors(const ResourceInfo& res, const Json& obj) {
  FieldErrors errs = ValidateObject(res, obj);
  return errs.empty() ? "" : AggregateMessage(errs);
}

TEST(Storage, ClaimSpecNeedsAccessModesAndAPositiveSize) {
  const ResourceInfo& res = PersistentVolumeClaimResource();
  Json ok = Claim({{"accessModes", Json::array({"ReadWriteOnce"})},
                   {"resources", {{"requests", {{"storage", "1Gi"}}}}}});
  EXPECT_EQ(Errors(res, ok), "");
  EXPECT_EQ(RequestedStorageBytes(ok["spec"]), int64_t{1} << 30);

  Json zero = ok;
  zero["spec"]["resources"]["requests"]["storage"] = "0";
  EXPECT_EQ(Errors(res, zero),
            "spec.resources.requests.storage: Invalid value: \"0\": must be greater than zero");
  Json bad = ok;
  bad["spec"]["resources"]["requests"]["storage"] = "lots";
  EXPECT_NE(Errors(res, bad).find("spec.resources.requests.storage: Invalid value: \"lots\""),
            std::string::npos);
  Json none = ok;
  none["spec"].erase("resources");
  EXPECT_NE(Errors(res, none).find("spec.resources.requests.storage: Required value"),
            std::string::npos);
  Json modes = ok;
  modes["spec"].erase("accessModes");
  EXPECT_NE(Errors(res, modes).find("spec.accessModes: Required value"), std::string::npos);
  Json unknown = ok;
  unknown["spec"]["accessModes"] = Json::array({"ReadWriteSometimes"});
  EXPECT_NE(Errors(res, unknown).find("spec.accessModes[0]: Unsupported value"), std::string::npos)
      << Errors(res, unknown);
  Json cls = ok;
  cls["spec"]["storageClassName"] = "Not_A_Name";
  EXPECT_NE(Errors(res, cls).find("spec.storageClassName: Invalid value"), std::string::npos);
}

TEST(Storage, VolumeClaimTemplatesOfAgentKindsAreCheckedLikeClaims) {
  Json sb = {{"apiVersion", "agents.x-k8s.io/v1beta1"},
             {"kind", "Sandbox"},
             {"metadata", {{"name", "s"}, {"namespace", "default"}}},
             {"spec",
              {{"podTemplate",
                {{"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "i"}}})}}}}},
               {"volumeClaimTemplates",
                Json::array({{{"metadata", {{"name", "data"}}},
                              {"spec", {{"accessModes", Json::array({"ReadWriteOnce"})}}}},
                             {{"metadata", {{"name", "data"}}},
                              {"spec",
                               {{"accessModes", Json::array({"ReadWriteOnce"})},
                                {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}})}}}};
  std::string errs = Errors(SandboxResource(), sb);
  EXPECT_NE(errs.find("spec.volumeClaimTemplates[0].spec.resources.requests.storage: Required"),
            std::string::npos)
      << errs;
  EXPECT_NE(errs.find("spec.volumeClaimTemplates[1].metadata.name: Duplicate value: \"data\""),
            std::string::npos)
      << errs;
}

TEST(Storage, StorageClassNeedsAProvisionerAndGetsDefaults) {
  const ResourceInfo& res = StorageClassResource();
  EXPECT_FALSE(res.namespaced);
  Json sc = {{"apiVersion", "storage.k8s.io/v1"},
             {"kind", "StorageClass"},
             {"metadata", {{"name", "fast"}}}};
  EXPECT_NE(Errors(res, sc).find("provisioner: Required value"), std::string::npos);
  sc["provisioner"] = "asb.dev/local";
  ApplyDefaults(res, sc);
  EXPECT_EQ(Errors(res, sc), "");
  EXPECT_EQ(sc["reclaimPolicy"], "Delete");
  EXPECT_EQ(sc["volumeBindingMode"], "Immediate");
}

TEST(Storage, TablesShowWhatKubectlShows) {
  Json pvc = Claim({{"accessModes", Json::array({"ReadWriteOnce", "ReadOnlyMany"})},
                    {"resources", {{"requests", {{"storage", "4Gi"}}}}},
                    {"storageClassName", "asb-local"},
                    {"volumeName", "pvc-1"}});
  pvc["status"] = {{"phase", "Bound"},
                   {"capacity", {{"storage", "4Gi"}}},
                   {"accessModes", Json::array({"ReadWriteOnce", "ReadOnlyMany"})}};
  const ResourceInfo& res = PersistentVolumeClaimResource();
  std::vector<std::string> names;
  for (const auto& c : TableColumns(res)) names.push_back(c.name);
  ASSERT_GE(names.size(), 8u);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 6),
            (std::vector<std::string>{"Name", "Status", "Volume", "Capacity", "Access Modes",
                                      "StorageClass"}));
  Json cells = TableCells(res, pvc, SystemTime{});
  EXPECT_EQ(cells[0], "c");
  EXPECT_EQ(cells[1], "Bound");
  EXPECT_EQ(cells[2], "pvc-1");
  EXPECT_EQ(cells[3], "4Gi");
  EXPECT_EQ(cells[4], "RWO,ROX");
  EXPECT_EQ(cells[5], "asb-local");

  Json sc = {
      {"metadata", {{"name", "asb-local"}, {"annotations", {{kDefaultClassAnnotation, "true"}}}}},
      {"provisioner", "asb.dev/local"}};
  EXPECT_EQ(TableCells(StorageClassResource(), sc, SystemTime{})[0], "asb-local (default)");
}

}  // namespace
}  // namespace asb::api
