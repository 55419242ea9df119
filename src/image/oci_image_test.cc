// ToResolvedImage: an image config applied as a kubelet would, the agent layer on top, and the
// image paths the runtime creates before entering the sandbox checked for symlinks.
#include "image/oci_image.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/file_util.h"
#include "tests/testing/test_util.h"

namespace asb::image {
namespace {

class OciImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    top_ = tmp_.Sub("top");
    base_ = tmp_.Sub("base");
    ASSERT_TRUE(MakeDirs(top_ + "/etc"));
    ASSERT_TRUE(MakeDirs(base_ + "/etc"));
    ASSERT_TRUE(AtomicWriteFile(base_ + "/etc/passwd", "root:x:0:0::/:/bin/sh\n"));
    ASSERT_TRUE(AtomicWriteFile(top_ + "/etc/passwd",
                                "root:x:0:0::/:/bin/sh\nsrv:x:1000:1001::/srv:/bin/sh\n"));
    ASSERT_TRUE(AtomicWriteFile(top_ + "/etc/group", "root:x:0:\nweb:x:2000:\n"));
    img_.ref = "127.0.0.1:5000/team/app:3";
    img_.manifest_digest = "sha256:" + std::string(64, 'c');
    img_.layer_dirs = {top_, base_};
  }
  asb::testing::TempDir tmp_;
  std::string top_, base_;
  CachedImage img_;
};

TEST_F(OciImageTest, ImageWithoutServerRunsTheAgent) {
  img_.config.entrypoint = {"/bin/sh"};
  img_.config.env = {"A=1"};
  auto r = ToResolvedImage(img_, "/agent");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rootfs.lower_dirs, (std::vector<std::string>{"/agent", top_, base_}));
  EXPECT_EQ(r->entrypoint, std::vector<std::string>{"/asb/bin/asb-agent"});
  EXPECT_TRUE(r->cmd.empty());
  EXPECT_EQ(r->port, kAgentPort);
  EXPECT_EQ(r->env.front(), "A=1");
  EXPECT_EQ(r->env.back().rfind("PATH=", 0), 0u);
  EXPECT_EQ(r->image_id, "127.0.0.1:5000/team/app@" + img_.manifest_digest);
  EXPECT_FALSE(r->uid);
}

TEST_F(OciImageTest, ImageWithExposedPortsRunsItsOwnProcessAsItsUser) {
  img_.config.entrypoint = {"/srv/bin"};
  img_.config.cmd = {"--port", "8080"};
  img_.config.exposed_ports = {8080};
  img_.config.working_dir = "/srv";
  img_.config.user = "srv";
  auto r = ToResolvedImage(img_, "/agent");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->entrypoint, std::vector<std::string>{"/srv/bin"});
  EXPECT_EQ(r->cmd, (std::vector<std::string>{"--port", "8080"}));
  EXPECT_EQ(r->port, 8080);
  EXPECT_EQ(r->working_dir, "/srv");
  EXPECT_EQ(r->uid, 1000u);  // from the topmost layer's /etc/passwd
  EXPECT_EQ(r->gid, 1001u);

  img_.config.user = "srv:web";
  r = ToResolvedImage(img_, "/agent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->gid, 2000u);
  img_.config.user = "4242:7";
  r = ToResolvedImage(img_, "/agent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 4242u);
  EXPECT_EQ(r->gid, 7u);
  img_.config.user = "nobody-here";
  r = ToResolvedImage(img_, "/agent");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unable to find user nobody-here"), std::string::npos);
}

TEST_F(OciImageTest, TheExecAgentGoesBesideEveryProcessButAnImageServing8888) {
  auto r = ToResolvedImage(img_, "/agent");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exec_agent, "/asb/bin/asb-agent");  // for a container `command`
  EXPECT_EQ(r->exec_agent_port, 8888);
  img_.config.exposed_ports = {8080};
  r = ToResolvedImage(img_, "/agent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exec_agent, "/asb/bin/asb-agent");
  img_.config.exposed_ports = {8080, 8888};  // its own server of that API (the opt-out)
  r = ToResolvedImage(img_, "/agent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exec_agent, "");
}

TEST_F(OciImageTest, WorkingDirThroughASymlinkIsRefused) {
  ASSERT_EQ(::symlink("/etc", (base_ + "/app").c_str()), 0);
  img_.config.working_dir = "/app/sub";
  auto r = ToResolvedImage(img_, "/agent");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_NE(r.error().message.find("/app is a symlink in the image"), std::string::npos);
  // An upper layer's whiteout removes the symlink: the path is free again.
  ASSERT_EQ(::mknod((top_ + "/app").c_str(), S_IFCHR, makedev(0, 0)), 0);
  EXPECT_TRUE(ToResolvedImage(img_, "/agent"));
}

TEST_F(OciImageTest, AgentLayerHoldsTheAgentAndRealDirectories) {
  const std::string agent = tmp_.Sub("asb-agent");
  asb::testing::WriteFileOrDie(agent, "#!agent", 0755);
  ASSERT_TRUE(GenerateAgentLayer(tmp_.Sub("agent-layer"), agent));
  EXPECT_EQ(ReadFile(tmp_.Sub("agent-layer/asb/bin/asb-agent")).value_or(""), "#!agent");
  struct stat st;
  ASSERT_EQ(::lstat(tmp_.Sub("agent-layer/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  for (const char* d : {"proc", "dev"}) {
    ASSERT_EQ(::lstat(tmp_.Sub(std::string("agent-layer/") + d).c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
  }
}

}  // namespace
}  // namespace asb::image
