#include "net/nft_ruleset.h"

#include <gtest/gtest.h>

namespace asb::net {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(NftRulesetTest, ManagedBlocksPrivateRangesAndMasqueradesTheRest) {
  std::string r = BuildRuleset({"asb0", *ParseCidr("10.244.0.0/16"), EgressMode::kManaged, "asb"});
  // Replaced whole in one transaction.
  EXPECT_EQ(r.rfind("table ip asb\ndelete table ip asb\ntable ip asb {\n", 0), 0u) << r;
  for (const char* block : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                            "100.64.0.0/10", "127.0.0.0/8"}) {
    EXPECT_TRUE(Has(r, block)) << block;
  }
  EXPECT_TRUE(Has(r, "iifname \"asb0\" counter drop comment \"sandbox to a host service\""));
  EXPECT_TRUE(Has(r, "oifname \"asb0\" jump pod_ingress"));
  EXPECT_TRUE(Has(r, "    counter drop comment \"ingress not from the node\""));
  EXPECT_TRUE(Has(r, "ip saddr != 10.244.0.0/16 counter drop"));
  EXPECT_TRUE(Has(r, "ip daddr @blocked_egress counter drop"));
  // A template's policy replaces the default for its sandboxes' addresses.
  EXPECT_TRUE(Has(r, "ip saddr vmap @egress_policy"));
  EXPECT_TRUE(Has(r, "ip daddr vmap @ingress_policy"));
  EXPECT_LT(r.find("ip saddr vmap @egress_policy"), r.find("ip daddr @blocked_egress"));
  EXPECT_TRUE(Has(r, "ip saddr 10.244.0.0/16 oifname != \"asb0\" masquerade"));
  // Replies are let through before any drop in each chain.
  EXPECT_LT(r.find("  chain pod_ingress {\n    ct state established,related return\n"),
            r.find("ingress not from the node"));
  EXPECT_LT(r.find("iifname \"asb0\" ct state established,related accept"),
            r.find("iifname \"asb0\" counter drop"));
}

TEST(NftRulesetTest, DenyAllLetsNothingOut) {
  std::string r = BuildRuleset({"br-x", *ParseCidr("10.9.0.0/24"), EgressMode::kDenyAll, "t"});
  EXPECT_TRUE(Has(r, "counter drop comment \"egress denied (deny-all)\""));
  // Nothing after the drop: no template policy lets anything out either.
  EXPECT_TRUE(Has(r, "counter drop comment \"egress denied (deny-all)\"\n  }\n"));
  EXPECT_FALSE(Has(r, "@egress_policy\n"));
  EXPECT_TRUE(Has(r, "iifname \"br-x\""));
  EXPECT_EQ(r.rfind("table ip t\ndelete table ip t\n", 0), 0u);
}

// With a log group, every drop that stops a sandbox's traffic is logged to it by direction
// (net/blocked_log.h counts them per sandbox); a spoofed source is not a sandbox's to count.
TEST(NftRulesetTest, DropsAreLoggedToTheGroupByDirection) {
  RulesetInput in{"asb0", *ParseCidr("10.244.0.0/16"), EgressMode::kManaged, "asb", 24833};
  std::string r = BuildRuleset(in);
  const std::string egress = " log prefix \"asb-egress\" group 24833 snaplen 64 drop comment ";
  EXPECT_TRUE(Has(r, "counter" + egress + "\"sandbox to a host service\""));
  EXPECT_TRUE(Has(r, "@blocked_egress counter" + egress + "\"egress to a blocked range\""));
  EXPECT_TRUE(Has(r,
                  "counter log prefix \"asb-ingress\" group 24833 snaplen 64 drop comment "
                  "\"ingress not from the node\""));
  EXPECT_TRUE(Has(r, "ip saddr != 10.244.0.0/16 counter drop"));
  in.egress = EgressMode::kDenyAll;
  EXPECT_TRUE(Has(BuildRuleset(in), "counter" + egress + "\"egress denied (deny-all)\""));
  EXPECT_EQ(LogStatement(0, true), "");
  EXPECT_FALSE(Has(BuildRuleset({"asb0", *ParseCidr("10.244.0.0/16")}), " log "));
}

TEST(NftRulesetTest, BlockedRangesDoNotCoverTestNetAddresses) {
  // The e2e suite's "public" test host lives in TEST-NET-2; it must stay reachable by default.
  Ipv4 public_host = *ParseIpv4("198.51.100.2");
  for (const Cidr& c : BlockedEgress()) EXPECT_FALSE(c.Contains(public_host)) << ToString(c);
}

}  // namespace
}  // namespace asb::net
