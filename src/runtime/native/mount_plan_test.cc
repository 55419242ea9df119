// PlanMounts (the plan half of "plan, then apply"): which inputs are refused, and what the plan
// says about ownership, binds and the memory view. asb-init's executor is covered by the
// privileged NativeRuntime tests; this is the pure part, as a table.
#include "runtime/native/mount_plan.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>

#include "tests/testing/test_util.h"

namespace asb::runtime::native {
namespace {

using K = MountOp::Kind;

class MountPlanTest : public ::testing::Test {
 protected:
  MountPlanInput Good() const {
    MountPlanInput in;
    in.root_dir = tmp_.Sub("root");
    in.scratch_dir = tmp_.Sub("scratch");
    in.rootfs.lower_dir = tmp_.path();  // any existing directory
    in.scratch_mount_fd = 6;
    in.root_uid = in.root_gid = 100000;
    in.work_uid = in.work_gid = 101000;
    in.workdir = "/work";
    return in;
  }
  // The op with this kind and target, or nullptr.
  static const MountOp* FindOp(const std::vector<MountOp>& ops, K kind, const std::string& target,
                               std::function<bool(const MountOp&)> also = nullptr) {
    auto it = std::find_if(ops.begin(), ops.end(), [&](const MountOp& op) {
      return op.kind == kind && op.target == target && (!also || also(op));
    });
    return it == ops.end() ? nullptr : &*it;
  }
  asb::testing::TempDir tmp_;
};

TEST_F(MountPlanTest, SeveralLowerLayersStackUppermostFirst) {
  MountPlanInput in = Good();
  const std::string a = tmp_.Sub("layer-a"), b = tmp_.Sub("layer-b");
  ASSERT_EQ(::mkdir(a.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(b.c_str(), 0755), 0);
  in.rootfs.lower_dir = "";
  in.rootfs.lower_dirs = {a, b};
  auto plan = PlanMounts(in);
  ASSERT_TRUE(plan) << plan.error().message;
  // OCI layers are idmapped through the sandbox's maps (their owners are the image's).
  EXPECT_NE(FindOp(*plan, K::kIdmapBind, in.scratch_dir + "/l0",
                   [&](const MountOp& op) { return op.source == a; }),
            nullptr);
  EXPECT_NE(FindOp(*plan, K::kIdmapBind, in.scratch_dir + "/l1",
                   [&](const MountOp& op) { return op.source == b; }),
            nullptr);
  EXPECT_EQ(FindOp(*plan, K::kMount, in.scratch_dir + "/l0"), nullptr);
  // The built-in image's host-owned lower dir is bound as it is.
  auto builtin = PlanMounts(Good());
  ASSERT_TRUE(builtin) << builtin.error().message;
  EXPECT_NE(FindOp(*builtin, K::kMount, in.scratch_dir + "/lower",
                   [&](const MountOp& op) { return op.flags == MS_BIND; }),
            nullptr);
  const MountOp* root = FindOp(*plan, K::kMount, in.root_dir);
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->data, "lowerdir=l0:l1,upperdir=upper,workdir=work");

  in.rootfs.lower_dirs = {a, tmp_.Sub("missing")};
  plan = PlanMounts(in);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("missing is not a directory"), std::string::npos);
  in.rootfs.lower_dirs = {a, b + ":x"};
  EXPECT_FALSE(PlanMounts(in));
}

TEST_F(MountPlanTest, AFileBindGetsItsDirectoryMadeFirst) {
  // An image of one binary has no /etc: the resolv.conf bind needs /etc made before the file.
  MountPlanInput in = Good();
  const std::string file = tmp_.Sub("resolv.conf");
  asb::testing::WriteFileOrDie(file, "nameserver 192.0.2.53\n");
  in.rootfs.binds = {{file, "/etc/resolv.conf", true}};
  auto plan = PlanMounts(in);
  ASSERT_TRUE(plan) << plan.error().message;
  auto at = [&](K kind, const std::string& target) {
    auto it = std::find_if(plan->begin(), plan->end(), [&](const MountOp& op) {
      return op.kind == kind && op.target == target;
    });
    return it - plan->begin();
  };
  const auto n = static_cast<std::ptrdiff_t>(plan->size());
  ASSERT_LT(at(K::kMkdir, in.root_dir + "/etc"), n);
  ASSERT_LT(at(K::kTouch, in.root_dir + "/etc/resolv.conf"), n);
  EXPECT_LT(at(K::kMkdir, in.root_dir + "/etc"), at(K::kTouch, in.root_dir + "/etc/resolv.conf"));
}

TEST_F(MountPlanTest, RefusesBadInputNamingTheField) {
  struct Case {
    const char* what;
    std::function<void(MountPlanInput&)> edit;
    const char* want;  // substring of the error
  } cases[] = {
      {"relative lower dir", [](auto& in) { in.rootfs.lower_dir = "images/x"; }, "lower_dir"},
      {"missing lower dir", [](auto& in) { in.rootfs.lower_dir = "/nonexistent/asb"; },
       "not a directory"},
      {"',' in lower dir", [](auto& in) { in.rootfs.lower_dir += "/a,b"; }, "contains ','"},
      {"':' in scratch dir", [](auto& in) { in.scratch_dir += ":x"; }, "contains ','"},
      {"':' in root dir", [](auto& in) { in.root_dir += ":x"; }, "contains ','"},
      {"no scratch mount fd", [](auto& in) { in.scratch_mount_fd = -1; }, "scratch_mount_fd"},
      {"bind onto /",
       [](auto& in) {
         in.rootfs.binds = {{"/usr", "/", true}};
       },
       "rootfs.binds[0].sandbox_path"},
      {"bind with a missing host path",
       [](auto& in) {
         in.rootfs.binds = {{"/usr", "/usr"}, {"/nonexistent/asb", "/x"}};
       },
       "rootfs.binds[1].host_path"},
      {"bind with a relative host path",
       [](auto& in) {
         in.rootfs.binds = {{"usr", "/usr"}};
       },
       "rootfs.binds[0].host_path"},
  };
  for (const Case& c : cases) {
    MountPlanInput in = Good();
    c.edit(in);
    auto plan = PlanMounts(in);
    ASSERT_FALSE(plan.has_value()) << c.what;
    EXPECT_EQ(plan.error().code, Code::kInvalidArgument) << c.what;
    EXPECT_NE(plan.error().message.find(c.want), std::string::npos)
        << c.what << ": " << plan.error().message;
  }
}

TEST_F(MountPlanTest, OwnershipBindsAndMemoryView) {
  MountPlanInput in = Good();
  in.rootfs.binds = {{"/usr", "/usr", true}, {tmp_.path(), "/data", false}};
  ASSERT_OK_AND_ASSIGN(std::vector<MountOp> ops, PlanMounts(in));
  const std::string& r = in.root_dir;

  // The writable layer is the inherited mount, attached first; the upper dir (the merged "/") is
  // the sandbox root's, the working dir the process's.
  ASSERT_FALSE(ops.empty());
  EXPECT_EQ(ops[0].kind, K::kMoveMount);
  EXPECT_EQ(ops[0].target, in.scratch_dir);
  EXPECT_EQ(ops[0].fd, in.scratch_mount_fd);
  const MountOp* upper = FindOp(ops, K::kMkdir, in.scratch_dir + "/upper");
  ASSERT_NE(upper, nullptr);
  EXPECT_EQ(upper->uid, 100000);
  const MountOp* work = FindOp(ops, K::kMkdir, r + "/work");
  ASSERT_NE(work, nullptr);
  EXPECT_EQ(work->uid, 101000);
  EXPECT_EQ(work->gid, 101000);
  // The overlay names its layers relative to the scratch dir (no host path in mountinfo).
  const MountOp* overlay = FindOp(ops, K::kMount, r);
  ASSERT_NE(overlay, nullptr);
  EXPECT_EQ(overlay->data.find(in.scratch_dir), std::string::npos) << overlay->data;

  // Each bind is remounted nosuid,nodev, read-only only when asked.
  auto remount = [&](const std::string& target) {
    return FindOp(ops, K::kMount, r + target,
                  [](const MountOp& op) { return (op.flags & MS_REMOUNT) != 0; });
  };
  ASSERT_NE(remount("/usr"), nullptr);
  EXPECT_NE(remount("/usr")->flags & MS_RDONLY, 0u);
  EXPECT_NE(remount("/usr")->flags & MS_NOSUID, 0u);
  ASSERT_NE(remount("/data"), nullptr);
  EXPECT_EQ(remount("/data")->flags & MS_RDONLY, 0u);

  // No memory limit: the real /proc/meminfo stays.
  EXPECT_EQ(FindOp(ops, K::kMount, r + "/proc/meminfo"), nullptr);
  in.memory_bytes = 512 << 20;
  ASSERT_OK_AND_ASSIGN(ops, PlanMounts(in));
  const MountOp* meminfo = FindOp(ops, K::kWrite, in.scratch_dir + "/meminfo");
  ASSERT_NE(meminfo, nullptr);
  EXPECT_NE(meminfo->data.find("MemTotal:"), std::string::npos);
  EXPECT_NE(meminfo->data.find("524288 kB"), std::string::npos) << meminfo->data;
  EXPECT_NE(FindOp(ops, K::kMount, r + "/proc/meminfo"), nullptr);
}

TEST_F(MountPlanTest, RootWorkdirGetsNoExtraDir) {
  MountPlanInput in = Good();
  in.workdir = "/";
  ASSERT_OK_AND_ASSIGN(std::vector<MountOp> ops, PlanMounts(in));
  EXPECT_EQ(FindOp(ops, K::kMkdir, in.root_dir + "/"), nullptr);
  EXPECT_NE(FindOp(ops, K::kMkdir, in.root_dir + "/tmp",
                   [](const MountOp& op) { return op.mode == 01777; }),
            nullptr);
}

}  // namespace
}  // namespace asb::runtime::native
