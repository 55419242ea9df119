// UnpackLayer on real tar archives (written here with libarchive, gzip and zstd): overlayfs
// whiteouts and opaque markers, and the entries that try to leave the layer's root.
#include "image/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/file_util.h"
#include "tests/testing/test_util.h"

namespace asb::image {
namespace {

using asb::testing::TempDir;

struct Entry {
  std::string path;
  char type = 'f';   // f file, d dir, l symlink, h hardlink, c char device
  std::string data;  // file contents / link target
};

void WriteTar(const std::string& path, const std::vector<Entry>& entries, int filter) {
  archive* a = archive_write_new();
  archive_write_add_filter(a, filter);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const Entry& e : entries) {
    archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.path.c_str());
    archive_entry_set_uid(en, 0);
    archive_entry_set_gid(en, 0);
    switch (e.type) {
      case 'f':
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_size(en, static_cast<la_int64_t>(e.data.size()));
        break;
      case 'd':
        archive_entry_set_filetype(en, AE_IFDIR);
        archive_entry_set_perm(en, 0755);
        break;
      case 'l':
        archive_entry_set_filetype(en, AE_IFLNK);
        archive_entry_set_perm(en, 0777);
        archive_entry_set_symlink(en, e.data.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_hardlink(en, e.data.c_str());
        break;
      case 'c':
        archive_entry_set_filetype(en, AE_IFCHR);
        archive_entry_set_perm(en, 0666);
        archive_entry_set_rdev(en, makedev(1, 3));
        break;
    }
    ASSERT_EQ(archive_write_header(a, en), ARCHIVE_OK) << archive_error_string(a);
    if (e.type == 'f' && !e.data.empty()) {
      archive_write_data(a, e.data.data(), e.data.size());
    }
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
}

class UnpackTest : public ::testing::Test {
 protected:
  std::string Unpack(const std::vector<Entry>& entries, int filter = ARCHIVE_FILTER_GZIP,
                     Result<UnpackStats>* result = nullptr) {
    std::string tar = tmp_.Sub("layer-" + std::to_string(n_) + ".tar");
    std::string dest = tmp_.Sub("root-" + std::to_string(n_++));
    WriteTar(tar, entries, filter);
    EXPECT_TRUE(MakeDirs(dest));
    auto r = UnpackLayer(tar, dest);
    if (result != nullptr) *result = r;
    return dest;
  }
  TempDir tmp_;
  int n_ = 0;
};

TEST_F(UnpackTest, GzipAndZstdLayersUnpack) {
  for (int filter : {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_NONE}) {
    Result<UnpackStats> r;
    std::string root = Unpack({{"./", 'd'},
                               {"./bin/", 'd'},
                               {"./bin/busybox", 'f', "#!binary"},
                               {"./bin/sh", 'l', "/bin/busybox"},
                               {"./bin/ls", 'h', "bin/busybox"},
                               {"/etc/passwd", 'f', "root:x:0:0::/:/bin/sh\n"}},
                              filter, &r);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(ReadFile(root + "/bin/busybox").value_or(""), "#!binary");
    EXPECT_EQ(ReadFile(root + "/etc/passwd").value_or(""), "root:x:0:0::/:/bin/sh\n");
    char buf[64] = {};
    ASSERT_GT(::readlink((root + "/bin/sh").c_str(), buf, sizeof(buf) - 1), 0);
    EXPECT_STREQ(buf, "/bin/busybox");  // absolute targets are kept, just never followed here
    struct stat a, b;
    ASSERT_EQ(::stat((root + "/bin/busybox").c_str(), &a), 0);
    ASSERT_EQ(::stat((root + "/bin/ls").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
  }
}

TEST_F(UnpackTest, WhiteoutsBecomeOverlayfsWhiteouts) {
  Result<UnpackStats> r;
  std::string root =
      Unpack({{"etc/.wh.motd", 'f'}, {"var/cache/.wh..wh..opq", 'f'}}, ARCHIVE_FILTER_GZIP, &r);
  ASSERT_TRUE(r) << r.error().message;
  struct stat st;
  ASSERT_EQ(::lstat((root + "/etc/motd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(PathExists(root + "/etc/.wh.motd"));
  char v[4] = {};
  ASSERT_EQ(::getxattr((root + "/var/cache").c_str(), "trusted.overlay.opaque", v, sizeof(v)), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(PathExists(root + "/var/cache/.wh..wh..opq"));
}

TEST_F(UnpackTest, DeviceNodesAreSkipped) {
  Result<UnpackStats> r;
  std::string root =
      Unpack({{"dev/", 'd'}, {"dev/null", 'c'}, {"a", 'f', "x"}}, ARCHIVE_FILTER_GZIP, &r);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(PathExists(root + "/dev/null"));
  EXPECT_TRUE(PathExists(root + "/a"));
}

TEST_F(UnpackTest, EntriesThatEscapeTheRootAreRefused) {
  const std::string outside = tmp_.Sub("outside");
  ASSERT_TRUE(MakeDirs(outside));
  const std::vector<std::vector<Entry>> attacks = {
      {{"../escaped", 'f', "x"}},
      {{"a/../../escaped", 'f', "x"}},
      {{"link", 'l', outside}, {"link/escaped", 'f', "x"}},
      {{"link", 'l', "../outside"}, {"link/escaped", 'f', "x"}},
      {{"hard", 'h', "../outside/target"}},
      {{"link", 'l', outside}, {"hard", 'h', "link/target"}},
      {{"link", 'l', outside}, {"link/.wh.target", 'f'}},
      {{"link", 'l', outside}, {"link/.wh..wh..opq", 'f'}},
  };
  ASSERT_TRUE(AtomicWriteFile(outside + "/target", "keep"));
  for (size_t i = 0; i < attacks.size(); ++i) {
    Result<UnpackStats> r;
    Unpack(attacks[i], ARCHIVE_FILTER_GZIP, &r);
    ASSERT_FALSE(r) << "attack " << i;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << i << ": " << r.error().message;
    EXPECT_NE(r.error().message.find("layer entry"), std::string::npos) << r.error().message;
    EXPECT_FALSE(PathExists(tmp_.Sub("escaped"))) << i;
    EXPECT_FALSE(PathExists(outside + "/escaped")) << i;
    EXPECT_EQ(ReadFile(outside + "/target").value_or(""), "keep") << i;
    char v[4];
    EXPECT_LT(::getxattr(outside.c_str(), "trusted.overlay.opaque", v, sizeof(v)), 0) << i;
  }
}

TEST(CleanEntryPathTest, NormalizesAndRefusesDotDot) {
  EXPECT_EQ(CleanEntryPath("./a/b").value_or("?"), "a/b");
  EXPECT_EQ(CleanEntryPath("/a//b/").value_or("?"), "a/b");
  EXPECT_EQ(CleanEntryPath("./").value_or("?"), "");
  EXPECT_FALSE(CleanEntryPath("a/../b"));
  EXPECT_FALSE(CleanEntryPath(".."));
}

}  // namespace
}  // namespace asb::image
