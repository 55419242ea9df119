#include "image/image_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file_util.h"
#include "tests/testing/test_util.h"

namespace asb::image {
namespace {

using asb::testing::TempDir;

TEST(GlobMatchTest, MatchesWholeReference) {
  const std::string p = "registry.k8s.io/agent-sandbox/python-runtime-sandbox:*";
  EXPECT_TRUE(GlobMatch(p, "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"));
  EXPECT_TRUE(GlobMatch(p, "registry.k8s.io/agent-sandbox/python-runtime-sandbox:latest"));
  EXPECT_FALSE(GlobMatch(p, "registry.k8s.io/agent-sandbox/python-runtime-sandbox"));
  EXPECT_FALSE(GlobMatch(p, "evil.io/registry.k8s.io/agent-sandbox/python-runtime-sandbox:x"));
  EXPECT_FALSE(GlobMatch(p, "registry.k8s.io/agent-sandbox/other:v1"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
}

TEST(ImageStoreTest, DefaultAliasesMapTheUpstreamImage) {
  ImageStore store("/nonexistent");
  EXPECT_EQ(store.ApplyAliases("registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"),
            "python-runtime");
  EXPECT_EQ(store.ApplyAliases("registry.k8s.io/agent-sandbox/python-runtime-sandbox"),
            "python-runtime");
  // Upstream's current example templates name a staging build of the same image.
  EXPECT_EQ(store.ApplyAliases("staging.example/k8s-staging-images/agent-sandbox/"
                               "python-runtime-sandbox:latest-main"),
            "python-runtime");
  EXPECT_EQ(store.ApplyAliases("example.com/agent-sandbox/other:v1"),
            "example.com/agent-sandbox/other:v1");
  EXPECT_EQ(store.ApplyAliases("busybox:1.36"), "busybox:1.36");
}

TEST(ImageStoreTest, ConfiguredAliasesReplaceDefaults) {
  ImageStoreOptions o;
  o.aliases = {{"example.com/py:*", "python-runtime"}};
  ImageStore store("/nonexistent", o);
  EXPECT_EQ(store.ApplyAliases("example.com/py:3"), "python-runtime");
  EXPECT_EQ(store.ApplyAliases("registry.k8s.io/agent-sandbox/python-runtime-sandbox:v1"),
            "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v1");
}

class PythonRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_ = tmp_.Sub("asb-agent");
    asb::testing::WriteFileOrDie(agent_, "#!agent v1", 0755);
    ImageStoreOptions o;
    o.agent_path = agent_;
    store_ = std::make_unique<ImageStore>(tmp_.Sub("state"), o);
  }
  TempDir tmp_;
  std::string agent_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(PythonRuntimeTest, GeneratesRootfsOnce) {
  ASSERT_OK_AND_ASSIGN(
      ResolvedImage img,
      store_->Resolve("registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1"));
  const std::string r = img.rootfs.lower_dir;
  EXPECT_EQ(r, tmp_.Sub("state/images/python-runtime/rootfs"));
  char link[64] = {};
  ASSERT_GT(::readlink((r + "/bin").c_str(), link, sizeof(link) - 1), 0);
  EXPECT_STREQ(link, "usr/bin");
  for (const char* l : {"lib", "lib64", "sbin"}) {
    struct stat st;
    EXPECT_EQ(::lstat((r + "/" + l).c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << l;
  }
  struct stat st;
  ASSERT_EQ(::stat((r + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_TRUE(PathExists(r + "/app") && PathExists(r + "/proc") && PathExists(r + "/dev"));
  EXPECT_NE(ReadFile(r + "/etc/passwd").value_or("").find("sandbox:x:1000:1000"),
            std::string::npos);
  EXPECT_NE(ReadFile(r + "/etc/hosts").value_or("").find("127.0.0.1\tlocalhost"),
            std::string::npos);
  EXPECT_EQ(ReadFile(r + "/etc/resolv.conf").value_or("x"), "");
  EXPECT_EQ(ReadFile(r + "/asb/bin/asb-agent").value_or(""), "#!agent v1");
  EXPECT_EQ(::access((r + "/asb/bin/asb-agent").c_str(), X_OK), 0);
  EXPECT_EQ(img.entrypoint, std::vector<std::string>{"/asb/bin/asb-agent"});
  EXPECT_EQ(img.working_dir, "/app");
  EXPECT_EQ(img.port, 8888);
  ASSERT_EQ(img.rootfs.binds.size(), 1u);
  EXPECT_EQ(img.rootfs.binds[0].host_path, "/usr");
  EXPECT_TRUE(img.rootfs.binds[0].read_only);

  // Idempotent: the same directory (same inode), no temp dirs left behind.
  struct stat before;
  ASSERT_EQ(::stat(r.c_str(), &before), 0);
  ASSERT_OK_AND_ASSIGN(ResolvedImage again, store_->Resolve("python-runtime"));
  EXPECT_EQ(again.rootfs.lower_dir, r);
  struct stat after;
  ASSERT_EQ(::stat(r.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(tmp_.Sub("state/images/python-runtime"))) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 2);  // rootfs + agent.stamp
}

TEST_F(PythonRuntimeTest, RebuiltAgentIsRefreshed) {
  ASSERT_OK_AND_ASSIGN(ResolvedImage img, store_->Resolve("python-runtime"));
  asb::testing::WriteFileOrDie(agent_, "#!agent v2, longer", 0755);
  ASSERT_OK_AND_ASSIGN(img, store_->Resolve("python-runtime"));
  EXPECT_EQ(ReadFile(img.rootfs.lower_dir + "/asb/bin/asb-agent").value_or(""),
            "#!agent v2, longer");
}

TEST_F(PythonRuntimeTest, MissingAgentIsAClearError) {
  ImageStoreOptions o;
  o.agent_path = tmp_.Sub("no-agent");
  ImageStore store(tmp_.Sub("state2"), o);
  auto r = store.Resolve("python-runtime");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("asb-agent"), std::string::npos);
  EXPECT_FALSE(PathExists(tmp_.Sub("state2/images/python-runtime/rootfs")));
}

TEST_F(PythonRuntimeTest, UnknownImagesAreNotFound) {
  // A name without a registry host, and no default registry configured: never a pull.
  auto r = store_->Resolve("nginx:latest");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kNotFound);
  EXPECT_NE(r.error().message.find("nginx"), std::string::npos);
  EXPECT_NE(r.error().message.find("no default registry"), std::string::npos);
  EXPECT_ERROR_CODE(store_->Resolve(""), Code::kInvalidArgument);
  EXPECT_ERROR_CODE(store_->Resolve("../../etc"), Code::kNotFound);
}

TEST_F(PythonRuntimeTest, LocalDirectoryImages) {
  ASSERT_OK(MakeDirs(tmp_.Sub("state/images/tools/rootfs/bin")));
  ASSERT_OK_AND_ASSIGN(ResolvedImage bare, store_->Resolve("tools"));
  EXPECT_EQ(bare.rootfs.lower_dir, tmp_.Sub("state/images/tools/rootfs"));
  EXPECT_TRUE(bare.entrypoint.empty());
  asb::testing::WriteFileOrDie(
      tmp_.Sub("state/images/tools/config.json"),
      R"({"entrypoint":["/bin/tool"],"cmd":["--x"],"env":["A=1"],"working_dir":"/w","port":80,
          "binds":[{"host_path":"/usr","sandbox_path":"/usr"}]})");
  ASSERT_OK_AND_ASSIGN(ResolvedImage img, store_->Resolve("tools"));
  EXPECT_EQ(img.entrypoint, std::vector<std::string>{"/bin/tool"});
  EXPECT_EQ(img.cmd, std::vector<std::string>{"--x"});
  EXPECT_EQ(img.port, 80);
  ASSERT_EQ(img.rootfs.binds.size(), 1u);
  EXPECT_TRUE(img.rootfs.binds[0].read_only);
  asb::testing::WriteFileOrDie(tmp_.Sub("state/images/tools/config.json"), R"({"port":"x"})");
  EXPECT_ERROR_CODE(store_->Resolve("tools"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace asb::image
