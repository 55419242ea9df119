// Needs root (an nft table on the host): label privileged. The firewall's transactions against
// the real nft: a policy with dnsName peers declares one set per rule, a name's new addresses
// refill only the sets naming it, and removing the policy removes its chains and sets. Uses a
// table of its own and leaves none behind.
#include "net/policy_firewall.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "base/file_util.h"
#include "net/nft_ruleset.h"
#include "sys/command.h"
#include "tests/testing/test_util.h"

namespace asb::net {
namespace {

constexpr char kTable[] = "asbtestpf";

std::string Nft(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"nft"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = sys::RunCommand(argv, std::chrono::seconds(10));
  return r && r->exit_code == 0 ? r->out : "<nft failed: " + (r ? r->err : r.error().message) + ">";
}

Json J(const char* text) { return *ParseJson(text); }

class PolicyFirewallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "SKIPPED LOUDLY: nft needs root";
    dir_ = tmp_.path();
    const std::string ruleset = dir_ + "/ruleset.nft";
    RulesetInput in;
    in.bridge = "asbtestpf0";  // need not exist: the rules match it by name
    in.pod_cidr = *ParseCidr("10.251.0.0/16");
    in.table = kTable;
    ASSERT_OK(AtomicWriteFile(ruleset, BuildRuleset(in), 0600));
    ASSERT_OK(RunNft("nft", {"-f", ruleset}));
  }
  void TearDown() override {
    if (!testing::IsRoot()) return;
    (void)RunNft("nft", {"delete", "table", "ip", kTable});
    EXPECT_NE(Nft({"list", "table", "ip", kTable}).find("<nft failed"), std::string::npos);
  }
  testing::TempDir tmp_;
  std::string dir_;
};

TEST_F(PolicyFirewallTest, DnsNameSetsAreFilledRefilledAndRemovedWithThePolicy) {
  PolicyFirewall fw("nft", kTable, dir_ + "/policy.nft");
  ASSERT_OK_AND_ASSIGN(NetworkPolicy p, ParseNetworkPolicy(J(R"({"egress": [
      {"to": [{"ipBlock": {"cidr": "192.0.2.53/32"}}], "ports": [{"protocol": "UDP", "port": 53}]},
      {"to": [{"dnsName": "a.example.com"}, {"dnsName": "b.example.com"}],
       "ports": [{"port": 443}]}]})")));
  ASSERT_OK(fw.SetNameAddresses("a.example.com", {*ParseIpv4("198.51.100.1")}));  // known first
  ASSERT_OK(fw.SetPolicy("default/t1", p));
  ASSERT_OK(fw.Join("sb-1", *ParseIpv4("10.251.0.5"), "default/t1"));
  EXPECT_EQ(fw.DnsNames(), (std::set<std::string>{"a.example.com", "b.example.com"}));
  std::string chain = Nft({"list", "chain", "ip", kTable, "pe_0"});
  EXPECT_NE(chain.find("ip daddr @pd_0_1 tcp dport 443 return"), std::string::npos) << chain;
  std::string set = Nft({"list", "set", "ip", kTable, "pd_0_1"});
  EXPECT_NE(set.find("elements = { 198.51.100.1 }"), std::string::npos) << set;

  // b resolves: the set holds both names' addresses; a moves: only its address changes.
  ASSERT_OK(fw.SetNameAddresses("b.example.com",
                                {*ParseIpv4("198.51.100.7"), *ParseIpv4("198.51.100.8")}));
  set = Nft({"list", "set", "ip", kTable, "pd_0_1"});
  EXPECT_NE(set.find("198.51.100.1, 198.51.100.7"), std::string::npos) << set;
  ASSERT_OK(fw.SetNameAddresses("a.example.com", {*ParseIpv4("198.51.100.2")}));
  set = Nft({"list", "set", "ip", kTable, "pd_0_1"});
  EXPECT_EQ(set.find("198.51.100.1"), std::string::npos) << set;
  EXPECT_NE(set.find("198.51.100.2"), std::string::npos) << set;
  // The chain is not reloaded by a name's change: its rule handles stay.
  const std::string handles = Nft({"-a", "list", "chain", "ip", kTable, "pe_0"});
  ASSERT_OK(fw.SetNameAddresses("b.example.com", {}));  // NXDOMAIN now
  EXPECT_EQ(Nft({"-a", "list", "chain", "ip", kTable, "pe_0"}), handles);
  set = Nft({"list", "set", "ip", kTable, "pd_0_1"});
  EXPECT_EQ(set.find("198.51.100.7"), std::string::npos) << set;

  // The policy changes: the names move to another rule, its set made and filled at once.
  ASSERT_OK_AND_ASSIGN(NetworkPolicy q, ParseNetworkPolicy(J(R"({"egress": [
      {"to": [{"dnsName": "a.example.com"}], "ports": [{"port": 8000}]}]})")));
  ASSERT_OK(fw.SetPolicy("default/t1", q));
  EXPECT_EQ(fw.DnsNames(), (std::set<std::string>{"a.example.com"}));
  set = Nft({"list", "set", "ip", kTable, "pd_0_0"});
  EXPECT_NE(set.find("elements = { 198.51.100.2 }"), std::string::npos) << set;

  // Removed: chains and every set it made go, with the member's map entries.
  ASSERT_OK(fw.SetPolicy("default/t1", std::nullopt));
  const std::string table = Nft({"list", "table", "ip", kTable});
  EXPECT_EQ(table.find("pd_0_"), std::string::npos) << table;
  EXPECT_EQ(table.find("pe_0"), std::string::npos) << table;
  EXPECT_TRUE(fw.DnsNames().empty());
  ASSERT_OK(fw.Leave("sb-1"));
}

}  // namespace
}  // namespace asb::net
