#include "runtime/runsc/oci_spec.h"

#include <gtest/gtest.h>

namespace asb::runtime::runsc {
namespace {

SandboxSpec MakeSpec() {
  SandboxSpec s;
  s.id = "sb-1";
  s.hostname = "pod-a";
  s.rootfs.lower_dir = "/var/lib/asb/images/python/rootfs";
  s.rootfs.binds = {{"/usr", "/usr", true}, {"/data", "/data", false}};
  s.process.argv = {"/asb/bin/asb-agent", "--port=8888"};
  s.process.env = {"A=1"};
  s.process.cwd = "/work";
  s.limits = {
      .memory_bytes = 256 << 20, .cpu_millis = 500, .pids = 64, .ephemeral_storage_bytes = 1 << 30};
  s.labels = {{"namespace", "default"}};
  return s;
}

const OciPaths kPaths{.rootfs = "/s/runsc/sb-1/rootfs",
                      .netns = "/s/runsc/sb-1/netns",
                      .cgroups_path = "/asb/runsc-sb-1",
                      .init = "/opt/asb/bin/asb-init"};

TEST(OciSpecTest, RootIsWritableOverlayAndHostnameSet) {
  Json c = BuildOciConfig(MakeSpec(), kPaths);
  EXPECT_EQ(c["root"]["path"], "/s/runsc/sb-1/rootfs");
  EXPECT_EQ(c["root"]["readonly"], false);
  EXPECT_EQ(c["hostname"], "pod-a");
  EXPECT_EQ(c["annotations"]["asb.label/namespace"], "default");
}

TEST(OciSpecTest, ProcessIsHardened) {
  Json p = BuildOciProcess(MakeSpec().process);
  EXPECT_EQ(p["args"], Json({"/asb/bin/asb-agent", "--port=8888"}));
  EXPECT_EQ(p["cwd"], "/work");
  EXPECT_EQ(p["noNewPrivileges"], true);
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"}) {
    EXPECT_TRUE(p["capabilities"][set].empty()) << set;
  }
  // A default PATH is added when the spec has none.
  EXPECT_EQ(p["env"],
            Json({"A=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}));
}

TEST(OciSpecTest, MainProcessStartsUnderAsbInitWithThePodsTaskLimit) {
  Json c = BuildOciConfig(MakeSpec(), kPaths);
  Json p = c["process"];
  // The spec's pids (64) is over the cap.
  EXPECT_EQ(p["args"],
            Json({kSandboxInitPath, "gvisor-entry", std::to_string(kGvisorMaxCommandTasks),
                  "/asb/bin/asb-agent", "--port=8888"}));
  EXPECT_EQ(p["noNewPrivileges"], true);
  // Only what asb-init needs for the cgroup setup; it drops them before the argv runs.
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"}) {
    EXPECT_EQ(p["capabilities"][set],
              Json({"CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_SETPCAP"}))
        << set;
  }
  int found = 0;
  for (const Json& m : c["mounts"]) {
    if (m["destination"] != kSandboxInitPath) continue;
    ++found;
    EXPECT_EQ(m["source"], "/opt/asb/bin/asb-init");
    auto opts = m["options"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(opts.begin(), opts.end(), "ro"), opts.end());
  }
  EXPECT_EQ(found, 1);

  SandboxSpec unlimited = MakeSpec();
  unlimited.limits = {};
  EXPECT_EQ(BuildOciConfig(unlimited, kPaths)["process"]["args"][2],
            std::to_string(kGvisorMaxCommandTasks));
  SandboxSpec few = MakeSpec();
  few.limits.pids = 10;
  EXPECT_EQ(BuildOciConfig(few, kPaths)["process"]["args"][2], "10");
}

TEST(OciSpecTest, NamespacesJoinThePersistedNetns) {
  Json ns = BuildOciConfig(MakeSpec(), kPaths)["linux"]["namespaces"];
  std::set<std::string> types;
  for (const Json& n : ns) {
    types.insert(n["type"].get<std::string>());
    if (n["type"] == "network")
      EXPECT_EQ(n["path"], "/s/runsc/sb-1/netns");
    else
      EXPECT_FALSE(n.contains("path"));
  }
  EXPECT_EQ(types, (std::set<std::string>{"pid", "ipc", "uts", "mount", "network"}));
}

TEST(OciSpecTest, LimitsBecomeResources) {
  Json l = BuildOciConfig(MakeSpec(), kPaths)["linux"];
  EXPECT_EQ(l["cgroupsPath"], "/asb/runsc-sb-1");
  EXPECT_EQ(l["resources"]["memory"]["limit"], 256 << 20);
  EXPECT_EQ(l["resources"]["cpu"]["quota"], 50000);
  EXPECT_EQ(l["resources"]["cpu"]["period"], 100000);
  // The host limit follows the tasks inside (capped), not the pod's figure.
  EXPECT_EQ(l["resources"]["pids"]["limit"], GvisorHostTasks(kGvisorMaxCommandTasks));
  EXPECT_EQ(GvisorHostTasks(24), 5664);

  SandboxSpec unlimited = MakeSpec();
  unlimited.limits = {};
  Json u = BuildOciConfig(unlimited, kPaths)["linux"]["resources"];
  EXPECT_FALSE(u.contains("memory"));
  EXPECT_FALSE(u.contains("cpu"));
  EXPECT_EQ(u["pids"]["limit"], GvisorHostTasks(kGvisorMaxCommandTasks));
  SandboxSpec few = MakeSpec();
  few.limits.pids = 10;
  EXPECT_EQ(BuildOciConfig(few, kPaths)["linux"]["resources"]["pids"]["limit"],
            GvisorHostTasks(10));
  EXPECT_LT(GvisorHostTasks(10), GvisorHostTasks(24));
}

TEST(OciSpecTest, BindsKeepTheirModeAndTmpIsOnTheOverlay) {
  Json mounts = BuildOciConfig(MakeSpec(), kPaths)["mounts"];
  int binds = 0;
  for (const Json& m : mounts) {
    if (m["destination"] == "/tmp") {
      EXPECT_EQ(m["type"], "bind");
      EXPECT_EQ(m["source"], "/s/runsc/sb-1/rootfs/tmp");
      continue;
    }
    if (m["type"] != "bind" || m["destination"] == kSandboxInitPath) continue;
    ++binds;
    bool ro = m["destination"] == "/usr";
    auto opts = m["options"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(opts.begin(), opts.end(), ro ? "ro" : "rw"), opts.end());
  }
  EXPECT_EQ(binds, 2);
}

TEST(OciSpecTest, ValidateRejectsBadInputNamingTheField) {
  SandboxSpec s = MakeSpec();
  EXPECT_TRUE(ValidateSpec(s));
  s.id = "Bad/Id";
  auto st = ValidateSpec(s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
  EXPECT_NE(st.error().message.find("id:"), std::string::npos);

  s = MakeSpec();
  s.process.argv.clear();
  EXPECT_NE(ValidateSpec(s).error().message.find("process.argv"), std::string::npos);
  s = MakeSpec();
  s.rootfs.lower_dir = "relative";
  EXPECT_NE(ValidateSpec(s).error().message.find("rootfs.lower_dir"), std::string::npos);
  s = MakeSpec();
  s.rootfs.binds[0].host_path = "usr";
  EXPECT_NE(ValidateSpec(s).error().message.find("rootfs.binds[0]"), std::string::npos);
  s = MakeSpec();
  s.limits.memory_bytes = -1;
  EXPECT_NE(ValidateSpec(s).error().message.find("limits"), std::string::npos);
}

}  // namespace
}  // namespace asb::runtime::runsc
