#include "net/network_policy.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace asb::net {
namespace {

Json J(const char* text) { return *ParseJson(text); }

TEST(NetworkPolicyTest, AnEgressAllowlistBecomesReturnsThenADrop) {
  ASSERT_OK_AND_ASSIGN(NetworkPolicy p, ParseNetworkPolicy(J(R"({"egress": [
      {"to": [{"ipBlock": {"cidr": "172.31.0.0/16", "except": ["172.31.9.0/24"]}}],
       "ports": [{"port": 8000}, {"protocol": "UDP", "port": 53, "endPort": 54}]},
      {"to": [{"ipBlock": {"cidr": "::/0"}}, {"podSelector": {}}]}]})")));
  ASSERT_EQ(p.egress.size(), 2u);
  EXPECT_TRUE(p.ingress.empty());
  EXPECT_EQ(PolicyChainRules(p.egress, true),
            "    ip daddr 172.31.0.0/16 ip daddr != { 172.31.9.0/24 } meta l4proto tcp th dport "
            "8000 return\n"
            "    ip daddr 172.31.0.0/16 ip daddr != { 172.31.9.0/24 } meta l4proto udp th dport "
            "53-54 return\n"
            "    counter drop comment \"egress not allowed by the template's networkPolicy\"\n");
}

TEST(NetworkPolicyTest, EmptyListsDenyAndRulesWithoutPeersOrPortsAllowAll) {
  ASSERT_OK_AND_ASSIGN(NetworkPolicy none, ParseNetworkPolicy(J("{}")));
  EXPECT_EQ(PolicyChainRules(none.egress, true),
            "    counter drop comment \"egress not allowed by the template's networkPolicy\"\n");
  ASSERT_OK_AND_ASSIGN(NetworkPolicy all, ParseNetworkPolicy(J(R"({"ingress": [{}],
      "egress": [{"ports": [{"port": 443}]}]})")));
  EXPECT_EQ(PolicyChainRules(all.ingress, false).rfind("    return\n", 0), 0u);
  EXPECT_EQ(
      PolicyChainRules(all.egress, true).rfind("    meta l4proto tcp th dport 443 return\n", 0),
      0u);
}

TEST(NetworkPolicyTest, MalformedPoliciesNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  } cases[] = {
      {R"({"egress": {}})", "networkPolicy.egress: must be a list"},
      {R"({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]})",
       "networkPolicy.egress[0].to[0].ipBlock.cidr: "},
      {R"({"egress": [{"to": [{"ipBlock": {}}]}]})", "networkPolicy.egress[0].to[0].ipBlock.cidr"},
      {R"({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/8"]}}]}]})",
       "networkPolicy.egress[0].to[0].ipBlock.except[0]: must lie within 10.0.0.0/8"},
      {R"({"ingress": [{"ports": [{"port": 0}]}]})", "networkPolicy.ingress[0].ports[0].port"},
      {R"({"ingress": [{"ports": [{"port": 80, "endPort": 79}]}]})",
       "networkPolicy.ingress[0].ports[0].endPort"},
      {R"({"ingress": [{"ports": [{"protocol": "ICMP"}]}]})",
       "networkPolicy.ingress[0].ports[0].protocol"},
      {R"({"ingress": [{"from": [{}]}]})", "networkPolicy.ingress[0].from[0]: needs one of"},
  };
  for (const Case& c : cases) {
    auto r = ParseNetworkPolicy(J(c.json));
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.field), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace asb::net
