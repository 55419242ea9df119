// Needs root (mount): label privileged.
#include "sys/mounts.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/file_util.h"
#include "base/strings.h"
#include "tests/testing/test_util.h"

namespace asb::sys {
namespace {

bool Mounted(const std::string& path) {
  auto mi = ReadFile("/proc/self/mountinfo");
  for (const std::string& line : Split(mi ? *mi : "", '\n')) {
    std::vector<std::string> f = Split(line, ' ');
    if (f.size() > 4 && f[4] == path) return true;
  }
  return false;
}

class MountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "SKIPPED LOUDLY: mounting needs root";
    char tmpl[] = "/tmp/asb-mounts-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* d : {"/lower", "/upper", "/work", "/root"}) ASSERT_OK(MakeDirs(dir_ + d));
    ASSERT_OK(AtomicWriteFile(dir_ + "/lower/a", "from lower"));
  }
  void TearDown() override {
    if (dir_.empty()) return;
    EXPECT_OK(Unmount(dir_ + "/root"));
    EXPECT_OK(RemoveTree(dir_));
  }
  std::string dir_;
};

TEST_F(MountsTest, OverlayWritesGoUpAndTheOwnerUnmounts) {
  const std::string root = dir_ + "/root";
  {
    ASSERT_OK_AND_ASSIGN(ScopedMount m,
                         MountOverlay(dir_ + "/lower", dir_ + "/upper", dir_ + "/work", root));
    EXPECT_TRUE(Mounted(root));
    auto a = ReadFile(root + "/a");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(*a, "from lower");
    ASSERT_OK(AtomicWriteFile(root + "/b", "new"));
    EXPECT_TRUE(PathExists(dir_ + "/upper/b"));
    EXPECT_FALSE(PathExists(dir_ + "/lower/b"));
    ScopedMount moved = std::move(m);  // ownership moves; the moved-from owner unmounts nothing
    EXPECT_TRUE(Mounted(root));
  }
  EXPECT_FALSE(Mounted(root));
}

// Several lower layers, uppermost first, in the form image/layer_unpack.h writes them: a 0/0
// character device hides the lower file, trusted.overlay.opaque hides the lower directory's
// entries.
TEST_F(MountsTest, OverlayStacksLayersWithWhiteoutsAndOpaqueDirs) {
  const std::string top = dir_ + "/top", root = dir_ + "/root";
  ASSERT_EQ(::mkdir(top.c_str(), 0755), 0);
  ASSERT_OK(AtomicWriteFile(top + "/t", "from top"));
  ASSERT_EQ(::mknod((top + "/a").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_OK(MakeDirs(dir_ + "/lower/d"));
  ASSERT_OK(AtomicWriteFile(dir_ + "/lower/d/old", "x"));
  ASSERT_OK(MakeDirs(top + "/d"));
  ASSERT_EQ(::setxattr((top + "/d").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_OK_AND_ASSIGN(ScopedMount m, MountOverlay(std::vector<std::string>{top, dir_ + "/lower"},
                                                   dir_ + "/upper", dir_ + "/work", root));
  EXPECT_EQ(ReadFile(root + "/t").value_or(""), "from top");
  EXPECT_FALSE(PathExists(root + "/a"));  // whited out
  EXPECT_TRUE(PathExists(root + "/d"));
  EXPECT_FALSE(PathExists(root + "/d/old"));  // opaque
  EXPECT_FALSE(MountOverlay(std::vector<std::string>{top, dir_ + "/a:b"}, dir_ + "/upper",
                            dir_ + "/work", root));
}

TEST_F(MountsTest, ReleasedMountStaysUntilUnmount) {
  const std::string root = dir_ + "/root";
  {
    ASSERT_OK_AND_ASSIGN(ScopedMount m,
                         MountOverlay(dir_ + "/lower", dir_ + "/upper", dir_ + "/work", root));
    m.Release();
  }
  EXPECT_TRUE(Mounted(root));
  EXPECT_OK(Unmount(root));
  EXPECT_FALSE(Mounted(root));
  EXPECT_OK(Unmount(root));               // not a mount point: fine
  EXPECT_OK(Unmount(dir_ + "/no-such"));  // gone: fine
}

TEST_F(MountsTest, PassesMountDataThrough) {
  // tmpfs stands in for a block device: the call is the same mount(2) with its data string.
  const std::string root = dir_ + "/root";
  ASSERT_OK_AND_ASSIGN(ScopedMount m, MountBlockDevice("tmpfs", "tmpfs", "size=1m", root));
  struct statvfs st {};
  ASSERT_EQ(::statvfs(root.c_str(), &st), 0);
  EXPECT_EQ(st.f_blocks * st.f_frsize, 1u << 20);
  EXPECT_TRUE(st.f_flag & ST_NOSUID);
  EXPECT_TRUE(st.f_flag & ST_NODEV);
}

TEST_F(MountsTest, RejectsOverlayOptionSyntaxInPaths) {
  EXPECT_ERROR_CODE(MountOverlay(dir_ + "/low,er", dir_ + "/upper", dir_ + "/work", dir_ + "/root"),
                    Code::kInvalidArgument);
  EXPECT_ERROR_CODE(MountOverlay(dir_ + "/lower", dir_ + "/up:per", dir_ + "/work", dir_ + "/root"),
                    Code::kInvalidArgument);
  EXPECT_FALSE(Mounted(dir_ + "/root"));
  EXPECT_ERROR_CODE(MountBlockDevice("tmpfs", "tmpfs", "", dir_ + "/missing"), Code::kNotFound);
}

}  // namespace
}  // namespace asb::sys
