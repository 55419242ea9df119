// Groups made by another program, and the v1 OOM event. Needs root (cgroupfs): label privileged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file_util.h"
#include "base/strings.h"
#include "sys/cgroup.h"
#include "sys/process.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

using namespace std::chrono_literals;

TEST(CgroupForeignTest, OpenAllHierarchiesRemovesEveryDirectoryARuntimeMade) {
  if (!testing::IsRoot()) GTEST_SKIP() << "SKIPPED LOUDLY: cgroups need root";
  const CgroupConfig config{.parent = "/asb"};
  const std::string name = "cgforeign-" + RandomHex(4);
  // What runsc does with cgroupsPath /asb/<name>: a directory in every hierarchy (on v1 that
  // includes controllers asb never configures, e.g. cpuset, devices, blkio).
  std::vector<std::string> made;
  if (CgroupIsV2()) {
    made.push_back("/sys/fs/cgroup/asb/" + name);
  } else {
    for (const auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup")) {
      if (e.is_directory() && !e.is_symlink()) made.push_back(e.path().string() + "/asb/" + name);
    }
  }
  for (const std::string& d : made) {
    ASSERT_TRUE(MakeDirs(d, 0755).has_value()) << d;
  }
  ASSERT_OK_AND_ASSIGN(Cgroup cg, Cgroup::OpenAllHierarchies(config, name));
  for (const std::string& d : made) {
    EXPECT_NE(std::find(cg.dirs().begin(), cg.dirs().end(), d), cg.dirs().end()) << d;
  }
  ASSERT_OK(cg.Remove(1s));
  for (const std::string& d : made) EXPECT_FALSE(PathExists(d)) << d;
  EXPECT_OK(cg.Remove(1s));  // idempotent
}

TEST(CgroupForeignTest, OomEventfdFiresOnTheLimitAndOnRemoval) {
  if (!testing::IsRoot()) GTEST_SKIP() << "SKIPPED LOUDLY: cgroups need root";
  const std::string probe = testing::BuiltBinary("sbx_probe");
  ASSERT_FALSE(probe.empty()) << "build target sbx_probe";
  const std::string name = "cgoom-" + RandomHex(4);
  ASSERT_OK_AND_ASSIGN(
      Cgroup cg, Cgroup::Create(CgroupConfig{}, name, CgroupLimits{.memory_bytes = 32 << 20}));
  Result<UniqueFd> efd = cg.OomEventfd();
  if (cg.is_v2()) {
    ASSERT_FALSE(efd.has_value());
    EXPECT_EQ(efd.error().code, Code::kUnimplemented);
    EXPECT_OK(cg.Remove());
    return;
  }
  ASSERT_TRUE(efd.has_value()) << efd.error().message;
  auto fired = [&](std::chrono::milliseconds within) {
    pollfd p{efd->get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(within.count())) != 1) return false;
    uint64_t n = 0;
    return ::read(efd->get(), &n, sizeof(n)) == sizeof(n) && n > 0;
  };
  EXPECT_FALSE(fired(0ms));
  EXPECT_FALSE(cg.OomKilled());
  std::string join;
  for (const auto& f : cg.ProcsFiles()) join += "echo $$ > " + f + "; ";
  ASSERT_OK_AND_ASSIGN(
      Child hog, SpawnChild({.path = "/bin/sh",
                             .argv = {"sh", "-c", join + "exec " + probe + " alloc-mb 256"}}));
  EXPECT_TRUE(fired(10s));
  ASSERT_OK_AND_ASSIGN(ExitStatus st, hog.Wait(10s));
  EXPECT_EQ(st.term_signal, SIGKILL);
  EXPECT_TRUE(testing::WaitFor([&] { return cg.OomKilled(); }, 2s));
  ASSERT_OK(cg.Remove());
  EXPECT_TRUE(fired(2s)) << "v1 signals the eventfd once more when the group goes";
  EXPECT_FALSE(PathExists(cg.memory_dir()));
}

}  // namespace
}  // namespace asb::sys
