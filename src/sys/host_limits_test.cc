#include "sys/host_limits.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include "base/file_util.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

// A temporary directory stands in for /proc/sys: same layout, plain files.
void Put(const testing::TempDir& root, const std::string& name, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(root.Sub(name)).parent_path());
  std::ofstream(root.Sub(name)) << text;
}

std::string Get(const testing::TempDir& root, const std::string& name) {
  auto text = ReadFile(root.Sub(name));
  return text ? *text : "<unreadable>";
}

TEST(HostLimitsTest, RaisesOnlyWhatIsLower) {
  testing::TempDir root;
  Put(root, "kernel/pid_max", "32768\n");
  Put(root, "net/ipv4/neigh/default/gc_thresh3", "99999\n");  // the admin's, higher
  Put(root, "net/ipv4/neigh/default/gc_thresh2", "16384\n");  // exactly the minimum
  RaiseReport r = RaiseSysctls(root.path(), {{"kernel/pid_max", 4194304},
                                             {"net/ipv4/neigh/default/gc_thresh3", 32768},
                                             {"net/ipv4/neigh/default/gc_thresh2", 16384}});
  ASSERT_EQ(r.raised.size(), 1u);
  EXPECT_EQ(r.raised[0].name, "kernel/pid_max");
  EXPECT_EQ(r.raised[0].before, 32768);
  EXPECT_EQ(r.raised[0].after, 4194304);
  EXPECT_EQ(r.already, 2);
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(Get(root, "kernel/pid_max"), "4194304\n");
  EXPECT_EQ(Get(root, "net/ipv4/neigh/default/gc_thresh3"), "99999\n");  // never lowered
  EXPECT_EQ(Get(root, "net/ipv4/neigh/default/gc_thresh2"), "16384\n");

  // A second start finds everything in place and writes nothing.
  RaiseReport again = RaiseSysctls(root.path(), {{"kernel/pid_max", 4194304}});
  EXPECT_TRUE(again.raised.empty());
  EXPECT_EQ(again.already, 1);
}

TEST(HostLimitsTest, ReportsWhatItCannotSet) {
  testing::TempDir root;
  Put(root, "net/ipv4/ip_local_port_range", "32768\t60999\n");  // two numbers: not ours
  Put(root, "kernel/garbage", "12abc\n");
  RaiseReport r = RaiseSysctls(root.path(), {{"net/netfilter/nf_conntrack_max", 1048576},
                                             {"net/ipv4/ip_local_port_range", 1},
                                             {"kernel/garbage", 5}});
  EXPECT_TRUE(r.raised.empty());
  EXPECT_EQ(r.already, 0);
  ASSERT_EQ(r.failed.size(), 3u);
  EXPECT_EQ(r.failed[0].name, "net/netfilter/nf_conntrack_max");
  EXPECT_NE(r.failed[0].reason.find("not present"), std::string::npos) << r.failed[0].reason;
  EXPECT_NE(r.failed[1].reason.find("not a single number"), std::string::npos);
  EXPECT_NE(r.failed[2].reason.find("not a single number"), std::string::npos);
  EXPECT_EQ(Get(root, "net/ipv4/ip_local_port_range"), "32768\t60999\n");
  EXPECT_EQ(Get(root, "kernel/garbage"), "12abc\n");
}

TEST(HostLimitsTest, DenseNodeMinimumsAreRealSysctls) {
  // Each name is a path that exists below a real /proc/sys of this kernel (conntrack only with
  // its module loaded), so a typo can't turn into a silent "not present".
  for (const SysctlMinimum& m : DenseNodeSysctls()) {
    if (m.name.rfind("net/netfilter/", 0) == 0 &&
        !std::filesystem::exists("/proc/sys/net/netfilter"))
      continue;
    EXPECT_TRUE(std::filesystem::exists("/proc/sys/" + m.name)) << m.name;
    EXPECT_GT(m.at_least, 0) << m.name;
  }
}

TEST(HostLimitsTest, OpenFilesLimitOnlyGoesUp) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  testing::TempDir root;
  Put(root, "fs/nr_open", "1048576\n");
  // Asking for less than the current soft limit changes nothing.
  ASSERT_OK_AND_ASSIGN(RlimitChange same, RaiseOpenFilesLimit(root.path(), 16));
  EXPECT_FALSE(same.changed());
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, before.rlim_cur);
  EXPECT_EQ(now.rlim_max, before.rlim_max);

  // Asking for more raises the soft limit at least to the hard one (to `want` with the
  // privilege), capped at fs/nr_open.
  const uint64_t want = std::min<uint64_t>(before.rlim_max, 1048576) + 1000;
  ASSERT_OK_AND_ASSIGN(RlimitChange up, RaiseOpenFilesLimit(root.path(), want));
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, up.soft_after);
  EXPECT_GE(now.rlim_cur, std::min<rlim_t>(before.rlim_max, 1048576));
  EXPECT_LE(now.rlim_max, std::max<rlim_t>(before.rlim_max, 1048576));
  EXPECT_GE(now.rlim_max, before.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &before);  // as root the test may put it back
}

}  // namespace
}  // namespace asb::sys
