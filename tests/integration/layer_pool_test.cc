// LayerPool against the real kernel: real ext4 images on real loop devices, mounted detached.
// Checks that the pool refills in the background, stays within depth x sizes, hands out only
// fresh layers (nothing a previous holder wrote), that a layer still fills up with ENOSPC at its
// size, and that destroying the pool leaves no loop device behind. Needs root.
#include "runtime/layer_pool.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "base/file_util.h"
#include "base/strings.h"
#include "tests/testing/test_util.h"

namespace asb::runtime {
namespace {

using namespace std::chrono_literals;
constexpr int64_t kMiB = int64_t{1} << 20;

// Loop devices whose backing file lives under `dir` (an O_TMPFILE shows as "dir/#ino (deleted)").
int LoopDevicesBackedFrom(const std::string& dir) {
  int n = 0;
  DIR* d = ::opendir("/sys/block");
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d)) {
    if (!StartsWith(e->d_name, "loop")) continue;
    auto backing = ReadFile(std::string("/sys/block/") + e->d_name + "/loop/backing_file");
    if (backing && StartsWith(*backing, dir + "/")) ++n;
  }
  ::closedir(d);
  return n;
}

// The names in the layer's root directory.
std::set<std::string> RootEntries(int mount_fd) {
  std::set<std::string> out;
  int fd = ::openat(mount_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return {"<openat failed>"};
  DIR* d = ::fdopendir(fd);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.insert(name);
  }
  ::closedir(d);
  return out;
}

// Writes 1 MiB chunks of `byte` to `name` in the layer until `limit` MiB or an error; returns
// {MiB written, errno of the failure (0 if none)}.
std::pair<int, int> Fill(int mount_fd, const char* name, int limit, char byte) {
  int fd = ::openat(mount_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return {0, errno};
  std::string chunk(kMiB, byte);
  int mib = 0, err = 0;
  while (mib < limit) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n != static_cast<ssize_t>(chunk.size())) {
      err = n < 0 ? errno : ENOSPC;
      break;
    }
    ++mib;
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  return {mib, err};
}

class LayerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!asb::testing::IsRoot()) GTEST_SKIP() << "LayerPool tests need root (loop devices)";
    dir_ = tmp_.Sub("templates");
  }
  asb::testing::TempDir tmp_;
  std::string dir_;
};

TEST_F(LayerPoolTest, RefillsInTheBackgroundAndServesReadyLayers) {
  ScratchDisks disks(dir_);
  LayerPool pool(disks, {.depth = 2, .max_sizes = 2, .prefill = {16 * kMiB}});
  ASSERT_TRUE(pool.WaitIdle(30s));
  EXPECT_EQ(pool.GetStats().ready, 2u);
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 2);

  ASSERT_OK_AND_ASSIGN(ScratchLayer a, pool.Take(16 * kMiB));
  ASSERT_OK_AND_ASSIGN(ScratchLayer b, pool.Take(16 * kMiB - 5));  // same rounded size
  EXPECT_EQ(a.bytes, 16 * kMiB);
  EXPECT_TRUE(StartsWith(a.device, "/dev/loop")) << a.device;
  ASSERT_TRUE(pool.WaitIdle(30s));
  LayerPool::Stats st = pool.GetStats();
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.misses, 0u);
  EXPECT_EQ(st.ready, 2u);  // refilled
  EXPECT_EQ(st.made, 4u);
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 4);  // two ready, two taken

  pool.Release(std::move(a.mount));
  pool.Release(std::move(b.mount));
  ASSERT_TRUE(pool.WaitIdle(30s));
  EXPECT_EQ(pool.GetStats().releasing, 0u);
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 2);  // the released ones are gone
}

TEST_F(LayerPoolTest, KeepsAtMostDepthTimesSizes) {
  ScratchDisks disks(dir_);
  LayerPool pool(disks, {.depth = 1, .max_sizes = 2});
  std::vector<UniqueFd> held;
  for (int64_t mib : {8, 9, 10, 10, 11}) {
    ASSERT_OK_AND_ASSIGN(ScratchLayer l, pool.Take(mib * kMiB));
    held.push_back(std::move(l.mount));
    ASSERT_TRUE(pool.WaitIdle(30s));
    EXPECT_LE(pool.GetStats().ready, 2u) << mib;
  }
  LayerPool::Stats st = pool.GetStats();
  EXPECT_EQ(st.ready, 2u);  // 10 and 11 MiB: 8 and 9 were dropped as least recently taken
  EXPECT_EQ(st.hits, 1u);   // the second 10 MiB
  EXPECT_EQ(st.misses, 4u);
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 2 + static_cast<int>(held.size()));
  for (UniqueFd& fd : held) pool.Release(std::move(fd));
  ASSERT_TRUE(pool.WaitIdle(30s));
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 2);
}

// A layer is never handed out twice: whatever one holder wrote is gone from every later layer,
// from its files and from its raw device (freed loop devices are reused), with the pool and
// without it.
TEST_F(LayerPoolTest, LayersAreFreshAndFillUpWithEnospcAtTheirSize) {
  ScratchDisks disks(dir_);
  for (size_t depth : {size_t{0}, size_t{2}}) {
    LayerPool pool(disks, {.depth = depth, .max_sizes = 1, .prefill = {16 * kMiB}});
    char previous = 0;
    for (int round = 0; round < 3; ++round) {
      ASSERT_OK_AND_ASSIGN(ScratchLayer l, pool.Take(16 * kMiB));
      EXPECT_EQ(RootEntries(l.mount.get()), std::set<std::string>{"lost+found"})
          << "depth " << depth << " round " << round;
      if (previous != 0) {
        // No 4 KiB block of the device holds the last holder's bytes.
        UniqueFd dev(::open(l.device.c_str(), O_RDONLY | O_CLOEXEC));
        ASSERT_TRUE(dev) << l.device;
        std::string block(4096, '\0'), stale(4096, previous);
        int stale_blocks = 0;
        while (::read(dev.get(), block.data(), block.size()) == 4096) {
          stale_blocks += block == stale;
        }
        EXPECT_EQ(stale_blocks, 0) << "depth " << depth << " round " << round;
      }
      previous = static_cast<char>('a' + round);
      auto [mib, err] = Fill(l.mount.get(), "secret", 64, previous);
      EXPECT_EQ(err, ENOSPC) << "depth " << depth;
      EXPECT_GE(mib, 12) << "depth " << depth;  // the size, less ext4's own metadata
      EXPECT_LE(mib, 16) << "depth " << depth;
      pool.Release(std::move(l.mount));
      ASSERT_TRUE(pool.WaitIdle(30s));
    }
  }
}

// With max_releasing waiting, the caller of Release pays for the close itself: the queue of used
// layers (each may hold its full size of disk) never grows past the bound.
TEST_F(LayerPoolTest, ReleasesBeyondTheBoundCloseInline) {
  ScratchDisks disks(dir_);
  LayerPool pool(disks, {.depth = 0, .max_sizes = 1, .max_releasing = 0});
  ASSERT_OK_AND_ASSIGN(ScratchLayer l, pool.Take(8 * kMiB));
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 1);
  pool.Release(std::move(l.mount));
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 0);  // gone when Release returned
  EXPECT_EQ(pool.GetStats().released_inline, 1u);
}

TEST_F(LayerPoolTest, DestroyingThePoolLeavesNoLoopDevice) {
  ScratchDisks disks(dir_);
  {
    LayerPool pool(disks, {.depth = 3, .max_sizes = 2, .prefill = {8 * kMiB, 12 * kMiB}});
    ASSERT_OK_AND_ASSIGN(ScratchLayer used, pool.Take(8 * kMiB));
    EXPECT_EQ(Fill(used.mount.get(), "data", 4, 'x').second, 0);
    pool.Release(std::move(used.mount));  // pending (maybe) when the pool goes
    EXPECT_GT(LoopDevicesBackedFrom(dir_), 0);
  }
  EXPECT_EQ(LoopDevicesBackedFrom(dir_), 0);
  // No image files either: every layer's image was unnamed.
  std::vector<std::string> names;
  DIR* d = ::opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && !StartsWith(n, "ext4-")) names.push_back(n);
  }
  ::closedir(d);
  EXPECT_TRUE(names.empty()) << names.front();
}

TEST_F(LayerPoolTest, AFailingMakeIsAnErrorNotAHang) {
  // A template dir that cannot be created: Take fails with the cause, the background thread
  // backs off, and the destructor still returns.
  asb::testing::WriteFileOrDie(tmp_.Sub("file"), "x");
  ScratchDisks disks(tmp_.Sub("file") + "/templates");
  LayerPool pool(disks, {.depth = 2, .max_sizes = 1, .prefill = {8 * kMiB}});
  auto l = pool.Take(8 * kMiB);
  ASSERT_FALSE(l.has_value());
  EXPECT_NE(l.error().message.find("templates"), std::string::npos) << l.error().message;
  ASSERT_TRUE(pool.WaitIdle(30s));
  EXPECT_GE(pool.GetStats().failures, 1u);
}

}  // namespace
}  // namespace asb::runtime
