#include "agent/file_service.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/file_util.h"
#include "tests/testing/test_util.h"

namespace asb::agent {
namespace {

using ::asb::testing::TempDir;

// Runs every test twice: with openat2 and with the user-space resolver that replaces it on
// kernels (or gVisor builds) without openat2.
class FileServiceTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    base_ = tmp_.path() + "/app";
    outside_ = tmp_.path() + "/outside";
    ASSERT_TRUE(MakeDirs(outside_).has_value());
    ASSERT_TRUE(AtomicWriteFile(outside_ + "/secret", "host secret").has_value());
    auto fs = FileService::Open(base_);
    ASSERT_TRUE(fs.has_value()) << fs.error().message;
    files_.emplace(std::move(*fs));
    files_->set_force_fallback_for_test(GetParam());
  }
  void Symlink(const std::string& target, const std::string& link) {
    ASSERT_EQ(::symlink(target.c_str(), (base_ + "/" + link).c_str()), 0) << link;
  }

  TempDir tmp_;
  std::string base_;
  std::string outside_;
  std::optional<FileService> files_;
};

TEST_P(FileServiceTest, OpenCreatesBaseDir) { EXPECT_TRUE(PathExists(base_)); }

TEST_P(FileServiceTest, WriteCreatesParentsAndReadsBack) {
  ASSERT_TRUE(files_->WriteFile("a/b/c.txt", "hello").has_value());
  EXPECT_EQ(ReadFile(base_ + "/a/b/c.txt").value(), "hello");
  EXPECT_EQ(files_->ReadFile("a/b/c.txt").value(), "hello");
  EXPECT_EQ(files_->ReadFile("./a//b/../b/c.txt").value(), "hello");
  // Overwrite replaces the content atomically and leaves no temp files behind.
  ASSERT_TRUE(files_->WriteFile("a/b/c.txt", std::string("\0bin\xff", 5)).has_value());
  EXPECT_EQ(files_->ReadFile("a/b/c.txt").value(), std::string("\0bin\xff", 5));
  auto entries = files_->List("a/b");
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].name, "c.txt");
}

TEST_P(FileServiceTest, AbsolutePathsInsideBaseAreAccepted) {
  ASSERT_TRUE(files_->WriteFile(base_ + "/abs.txt", "x").has_value());
  EXPECT_EQ(files_->ReadFile("abs.txt").value(), "x");
  EXPECT_TRUE(IsAccessDenied(files_->ReadFile(outside_ + "/secret").error()));
  EXPECT_TRUE(IsAccessDenied(files_->ReadFile("/etc/passwd").error()));
}

// Found by fuzz/agent_path_fuzzer.cc: a NUL in a path (a decoded %00) used to survive
// normalisation, so "a.txt\0x" opened "a.txt".
TEST_P(FileServiceTest, PathsWithNulAreRefused) {
  ASSERT_TRUE(files_->WriteFile("a.txt", "x").has_value());
  const std::string nul("a.txt\0.png", 10);
  auto r = files_->ReadFile(nul);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(files_->WriteFile(nul, "y").has_value());
  EXPECT_EQ(files_->ReadFile("a.txt").value(), "x");
}

TEST_P(FileServiceTest, DotDotEscapesAreDenied) {
  for (const char* p : {"..", "../outside/secret", "a/../../outside/secret", "../../../etc/passwd",
                        "x/../../app/../outside/secret"}) {
    auto r = files_->ReadFile(p);
    ASSERT_FALSE(r.has_value()) << p;
    EXPECT_TRUE(IsAccessDenied(r.error())) << p << ": " << r.error().message;
    EXPECT_TRUE(IsAccessDenied(files_->WriteFile(p, "x").error())) << p;
    EXPECT_TRUE(IsAccessDenied(files_->List(p).error())) << p;
    EXPECT_TRUE(IsAccessDenied(files_->Exists(p).error())) << p;
  }
  EXPECT_FALSE(PathExists(tmp_.path() + "/x"));
}

TEST_P(FileServiceTest, SymlinksCannotLeakOrWriteOutside) {
  Symlink(outside_ + "/secret", "abs_link");
  Symlink("../outside/secret", "rel_link");
  Symlink(outside_, "dir_link");
  Symlink("/etc/passwd", "passwd");
  Symlink("/proc/self/root/etc/passwd", "magic");
  for (const char* p : {"abs_link", "rel_link", "dir_link/secret", "passwd", "magic"}) {
    auto r = files_->ReadFile(p);
    if (r.has_value()) {
      ADD_FAILURE() << p << " leaked: " << *r;
    }
  }
  EXPECT_FALSE(files_->List("dir_link").has_value() && !files_->List("dir_link")->empty());
  // Writing through a directory symlink that points outside stays inside the base dir.
  auto w = files_->WriteFile("dir_link/new.txt", "data");
  EXPECT_FALSE(PathExists(outside_ + "/new.txt"));
  (void)w;
  // Writing over a file symlink replaces the link, never the target.
  ASSERT_TRUE(files_->WriteFile("abs_link", "replaced").has_value());
  EXPECT_EQ(ReadFile(outside_ + "/secret").value(), "host secret");
  EXPECT_EQ(files_->ReadFile("abs_link").value(), "replaced");
}

TEST_P(FileServiceTest, SymlinksInsideTheBaseDirResolveInRoot) {
  ASSERT_TRUE(files_->WriteFile("real/f.txt", "inside").has_value());
  Symlink("real", "rel_dir");
  Symlink("/real/f.txt", "rooted");               // absolute: resolved as if base were "/"
  Symlink("../../../../real/f.txt", "climbing");  // ".." stops at the base dir
  EXPECT_EQ(files_->ReadFile("rel_dir/f.txt").value(), "inside");
  EXPECT_EQ(files_->ReadFile("rooted").value(), "inside");
  EXPECT_EQ(files_->ReadFile("climbing").value(), "inside");
  Symlink("loop", "loop");
  EXPECT_FALSE(files_->ReadFile("loop").has_value());
}

TEST_P(FileServiceTest, ReadMissingDirectoryAndFifoAreNotFound) {
  EXPECT_EQ(files_->ReadFile("missing").error().code, Code::kNotFound);
  ASSERT_TRUE(MakeDirs(base_ + "/d").has_value());
  EXPECT_EQ(files_->ReadFile("d").error().code, Code::kNotFound);
  ASSERT_EQ(::mkfifo((base_ + "/fifo").c_str(), 0644), 0);
  EXPECT_EQ(files_->ReadFile("fifo").error().code, Code::kNotFound);  // and does not hang
}

TEST_P(FileServiceTest, ListDescribesEntries) {
  ASSERT_TRUE(files_->WriteFile("dir/x.bin", std::string(1234, 'x')).has_value());
  ASSERT_TRUE(MakeDirs(base_ + "/dir/sub").has_value());
  auto entries = files_->List("dir");
  ASSERT_TRUE(entries.has_value()) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "sub");
  EXPECT_TRUE((*entries)[0].is_dir);
  EXPECT_EQ((*entries)[1].name, "x.bin");
  EXPECT_FALSE((*entries)[1].is_dir);
  EXPECT_EQ((*entries)[1].size, 1234);
  EXPECT_GT((*entries)[1].mod_time, 1.6e9);
  auto root = files_->List("");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->size(), 1u);
  EXPECT_EQ(files_->List("dir/x.bin").error().code, Code::kNotFound);
  EXPECT_EQ(files_->List("nope").error().code, Code::kNotFound);
}

TEST_P(FileServiceTest, Exists) {
  ASSERT_TRUE(files_->WriteFile("e/f", "1").has_value());
  EXPECT_TRUE(files_->Exists("e/f").value());
  EXPECT_TRUE(files_->Exists("e").value());
  EXPECT_TRUE(files_->Exists("").value());
  EXPECT_FALSE(files_->Exists("e/g").value());
  EXPECT_FALSE(files_->Exists("e/f/g").value());
  Symlink(outside_ + "/secret", "out");
  EXPECT_FALSE(files_->Exists("out").value());  // resolves to <base>/<outside>/secret
}

TEST_P(FileServiceTest, WriteToBaseOrDirectoryFails) {
  EXPECT_EQ(files_->WriteFile("", "x").error().code, Code::kFailedPrecondition);
  EXPECT_EQ(files_->WriteFile(".", "x").error().code, Code::kFailedPrecondition);
  ASSERT_TRUE(MakeDirs(base_ + "/d/inner").has_value());
  EXPECT_FALSE(files_->WriteFile("d", "x").has_value());
  // A failed write leaves no temp file behind.
  auto entries = files_->List("");
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].name, "d");
}

INSTANTIATE_TEST_SUITE_P(Resolvers, FileServiceTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Fallback" : "Openat2";
                         });

TEST(FileServiceOpenTest, RejectsRelativeBase) {
  EXPECT_EQ(FileService::Open("relative/dir").error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace asb::agent
