#include "cmd/asbd/config.h"

#include <gtest/gtest.h>

#include "base/file_util.h"
#include "cmd/asbd/app.h"

namespace asb::asbd {
namespace {

TEST(ConfigTest, FileOverridesDefaultsAndRoundTrips) {
  DaemonConfig c;
  c.state_dir = "/tmp/x";
  auto j = ParseJson(R"({"nodeName": "n1", "gvisor": "off",
                         "imageAliases": [{"pattern": "my/img:*", "image": "python-runtime"}]})");
  ASSERT_TRUE(j);
  ASSERT_TRUE(ApplyConfigJson(*j, &c));
  EXPECT_EQ(c.node_name, "n1");
  EXPECT_EQ(c.gvisor, "off");
  ASSERT_EQ(c.image_aliases.size(), 1u);
  EXPECT_TRUE(Validate(c));
  DaemonConfig again;
  ASSERT_TRUE(ApplyConfigJson(ConfigToJson(c), &again));
  EXPECT_EQ(ConfigToJson(again), ConfigToJson(c));
}

TEST(ConfigTest, StrictErrorsNameThePath) {
  DaemonConfig c;
  auto unknown = ApplyConfigJson(Json{{"nodeName", "changed"}, {"nodeNmae", "x"}}, &c);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "/nodeNmae: unknown key");
  EXPECT_EQ(c.node_name, "asb-node");  // a rejected file changes nothing
  auto wrong_type = ApplyConfigJson(Json{{"nodeWorkers", "four"}}, &c);
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.error().message, "/nodeWorkers: must be a non-negative integer");
  auto alias = ApplyConfigJson(Json::parse(R"({"imageAliases": [{"pattern": "x"}]})"), &c);
  ASSERT_FALSE(alias);
  EXPECT_EQ(alias.error().message, "/imageAliases/0/image: required");
  c.state_dir = "/tmp/x";
  c.gvisor = "lxc";
  auto bad = Validate(c);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "/gvisor: unknown value \"lxc\" (auto, on, off)");
}

TEST(ConfigTest, PodNetworkValuesAreChecked) {
  DaemonConfig c;
  c.state_dir = "/tmp/x";
  EXPECT_TRUE(Validate(c));  // the defaults: a bridge with 10.244.0.0/16
  c.pod_cidr = "10.244.0.1/16";
  auto host_bits = Validate(c);
  ASSERT_FALSE(host_bits);
  EXPECT_EQ(host_bits.error().message.rfind("/podCIDR: ", 0), 0u) << host_bits.error().message;
  c.pod_cidr = "10.244.0.0/31";
  EXPECT_FALSE(Validate(c));
  c.pod_cidr = "10.244.0.0/16";
  c.pod_network = "cni";
  auto mode = Validate(c);
  ASSERT_FALSE(mode);
  EXPECT_EQ(mode.error().message, "/podNetwork: unknown value \"cni\" (bridge, none)");
  c.pod_network = "bridge";
  c.pod_egress = "open";
  auto egress = Validate(c);
  ASSERT_FALSE(egress);
  EXPECT_EQ(egress.error().message, "/podEgress: unknown value \"open\" (managed, deny-all)");
  c.pod_egress = "deny-all";
  EXPECT_TRUE(Validate(c));
  c.pod_network = "none";
  c.pod_bridge = "asbv00000001";  // would collide with a sandbox's veth
  EXPECT_FALSE(Validate(c));
}

TEST(ConfigTest, RegistrySettings) {
  DaemonConfig c;
  c.state_dir = "/tmp/x";
  ASSERT_TRUE(ApplyConfigJson(Json::parse(R"({"defaultRegistry": "mirror.internal:5000",
      "insecureRegistries": ["10.0.0.5:5000"]})"),
                              &c));
  EXPECT_EQ(c.default_registry, "mirror.internal:5000");
  EXPECT_EQ(c.insecure_registries, std::vector<std::string>{"10.0.0.5:5000"});
  DaemonConfig again;
  ASSERT_TRUE(ApplyConfigJson(ConfigToJson(c), &again));
  EXPECT_EQ(ConfigToJson(again), ConfigToJson(c));
  auto bad = ApplyConfigJson(Json::parse(R"({"insecureRegistries": ["ok", 5]})"), &c);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "/insecureRegistries/1: must be a host[:port] string");
}

TEST(ConfigTest, ExampleConfigParses) {
  auto text = ReadFile(std::string(ASB_SOURCE_DIR) + "/configs/asbd.json");
  ASSERT_TRUE(text) << text.error().message;
  auto j = ParseJson(*text);
  ASSERT_TRUE(j) << j.error().message;
  DaemonConfig c;
  ASSERT_TRUE(ApplyConfigJson(*j, &c));
  EXPECT_TRUE(Validate(c));
}

}  // namespace
}  // namespace asb::asbd

namespace asb::asbd {
namespace {

TEST(ConfigTest, DefaultAliasesMapTheUpstreamImageAndAFileCanReplaceThem) {
  DaemonConfig c;
  ASSERT_FALSE(c.image_aliases.empty());
  EXPECT_EQ(c.image_aliases[0].image, "python-runtime");
  ASSERT_TRUE(ApplyConfigJson(Json{{"imageAliases", Json::array()}}, &c));
  EXPECT_TRUE(c.image_aliases.empty());  // an explicit empty table means no aliases
}

}  // namespace
}  // namespace asb::asbd

namespace asb::asbd {
namespace {

// Two `asbd node` processes on one machine each name their own table and cgroup parent.
TEST(ConfigTest, PodNftTableAndCgroupParentAreCheckedNames) {
  DaemonConfig c;
  c.state_dir = "/tmp/x";
  ASSERT_TRUE(ApplyConfigJson(Json{{"podNftTable", "asb_b"}, {"cgroupParent", "/asb-b"}}, &c));
  EXPECT_TRUE(Validate(c));
  EXPECT_EQ(ConfigToJson(c)["podNftTable"], "asb_b");
  EXPECT_EQ(ConfigToJson(c)["cgroupParent"], "/asb-b");
  DaemonConfig bad = c;
  bad.pod_nft_table = "asb; flush ruleset";
  EXPECT_EQ(Validate(bad).error().message.rfind("/podNftTable: ", 0), 0u);
  bad = c;
  bad.cgroup_parent = "asb";
  EXPECT_EQ(Validate(bad).error().message.rfind("/cgroupParent: ", 0), 0u);
  bad.cgroup_parent = "/asb/../..";
  EXPECT_FALSE(Validate(bad));
}

// --roles: the scheduler is opt-in; every role but apiserver needs it beside it here.
TEST(RolesTest, SchedulerIsOptInAndTheOthersRunBesideTheApiServer) {
  auto embedded = ParseRoles("apiserver,controller,node,router");
  ASSERT_TRUE(embedded);
  EXPECT_FALSE(embedded->scheduler);
  auto split = ParseRoles("apiserver, scheduler");
  ASSERT_TRUE(split);
  EXPECT_TRUE(split->scheduler && !split->node && !split->controller && !split->router);
  EXPECT_TRUE(ParseRoles("apiserver,router"));  // dials pod IPs without a node
  EXPECT_FALSE(ParseRoles("node"));
  EXPECT_EQ(ParseRoles("apiserver,kubelet").error().code, Code::kInvalidArgument);
}

TEST(ConfigTest, HostLimitsIsOnByDefaultAndAFileCanTurnItOff) {
  DaemonConfig c;
  EXPECT_TRUE(c.host_limits);
  ASSERT_TRUE(ApplyConfigJson(Json{{"hostLimits", false}}, &c));
  EXPECT_FALSE(c.host_limits);
  EXPECT_EQ(ConfigToJson(c)["hostLimits"], false);
  auto wrong = ApplyConfigJson(Json{{"hostLimits", "no"}}, &c);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message.rfind("/hostLimits: ", 0), 0u) << wrong.error().message;
}

TEST(ConfigTest, SimulateIsAKeyAndRefusesRequiredRealRuntimes) {
  DaemonConfig c;
  c.state_dir = "/tmp/x";
  ASSERT_TRUE(ApplyConfigJson(Json{{"simulate", true}}, &c));
  EXPECT_TRUE(c.simulate);
  EXPECT_TRUE(Validate(c));
  EXPECT_EQ(ConfigToJson(c)["simulate"], true);
  auto bad_type = ApplyConfigJson(Json{{"simulate", "yes"}}, &c);
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().message, "/simulate: must be true or false");
  c.gvisor = "on";
  auto both = Validate(c);
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error().message.rfind("/simulate: ", 0), 0u) << both.error().message;
}

}  // namespace
}  // namespace asb::asbd
