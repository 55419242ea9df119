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

TEST(NetworkPolicyTest, DnsNamePeersMatchTheirRulesSet) {
  ASSERT_OK_AND_ASSIGN(NetworkPolicy p, ParseNetworkPolicy(J(R"({"egress": [
      {"to": [{"ipBlock": {"cidr": "198.51.100.53/32"}}], "ports": [{"protocol": "UDP", "port": 53}]},
      {"to": [{"dnsName": "pypi.org."}, {"dnsName": "files.pythonhosted.org"},
              {"dnsName": "pypi.org"}, {"ipBlock": {"cidr": "192.0.2.0/24"}}],
       "ports": [{"port": 443}]}]})")));
  ASSERT_EQ(p.egress.size(), 2u);
  EXPECT_TRUE(p.egress[0].dns_names.empty());
  EXPECT_EQ(p.egress[1].dns_names,
            (std::vector<std::string>{"pypi.org", "files.pythonhosted.org"}));
  EXPECT_FALSE(p.egress[1].any_peer);
  EXPECT_EQ(PolicyChainRules(p.egress, true, "", "pd_3_"),
            "    ip daddr 198.51.100.53/32 meta l4proto udp th dport 53 return\n"
            "    ip daddr @pd_3_1 meta l4proto tcp th dport 443 return\n"
            "    ip daddr 192.0.2.0/24 meta l4proto tcp th dport 443 return\n"
            "    counter drop comment \"egress not allowed by the template's networkPolicy\"\n");
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
      {R"({"egress": [{"to": [{"dnsName": "*.example.com"}]}]})",
       "networkPolicy.egress[0].to[0].dnsName: wildcards are not supported"},
      {R"({"egress": [{"to": [{"dnsName": "Pypi.org"}]}]})",
       "networkPolicy.egress[0].to[0].dnsName: must be lowercase"},
      {R"({"egress": [{"to": [{"dnsName": 7}]}]})",
       "networkPolicy.egress[0].to[0].dnsName: must be a string"},
      {R"({"egress": [{"to": [{"dnsName": "pypi.org", "ipBlock": {"cidr": "1.2.3.4/32"}}]}]})",
       "networkPolicy.egress[0].to[0]: dnsName cannot be combined"},
      {R"({"ingress": [{"from": [{"dnsName": "pypi.org"}]}]})",
       "networkPolicy.ingress[0].from[0].dnsName: only egress peers"},
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
