#include "net/nft_ruleset.h"

#include "net/blocked_log.h"

namespace asb::net {

std::string LogStatement(uint16_t group, bool egress) {
  if (group == 0) return "";
  return std::string(" log prefix \"") + (egress ? kLogPrefixEgress : kLogPrefixIngress) +
         "\" group " + std::to_string(group) + " snaplen 64";
}

std::vector<Cidr> BlockedEgress() {
  std::vector<Cidr> out;
  for (const char* c : {"0.0.0.0/8",       // "this network"
                        "10.0.0.0/8",      // private (and the pod CIDR's usual home)
                        "100.64.0.0/10",   // CGNAT (also some clouds' internal ranges)
                        "127.0.0.0/8",     // loopback
                        "169.254.0.0/16",  // link-local: cloud metadata servers
                        "172.16.0.0/12",   // private
                        "192.168.0.0/16",  // private
                        "224.0.0.0/4",     // multicast
                        "240.0.0.0/4"}) {  // reserved, and the broadcast address
    out.push_back(*ParseCidr(c));
  }
  return out;
}

std::string BuildRuleset(const RulesetInput& in) {
  const std::string br = "\"" + in.bridge + "\"";
  const std::string pods = ToString(in.pod_cidr);
  const std::string log_egress = LogStatement(in.log_group, true);
  const std::string log_ingress = LogStatement(in.log_group, false);
  std::string blocked;
  for (const Cidr& c : BlockedEgress()) blocked += (blocked.empty() ? "" : ", ") + ToString(c);
  std::string s;
  // Declaring then deleting makes the replacement work whether or not the table exists, in the
  // same transaction as the new one.
  const std::string table = "table ip " + in.table;
  s += table + "\n";
  s += "delete " + table + "\n";
  s += table + " {\n";
  s += "  set blocked_egress {\n";
  s += "    type ipv4_addr\n";
  s += "    flags interval\n";
  s += "    elements = { " + blocked + " }\n";
  s += "  }\n";
  // Pod address -> its template's policy chains (PodNetwork::SetPolicy); sandboxes without
  // one get the node's default below.
  for (const char* m : {kEgressPolicyMap, kIngressPolicyMap}) {
    s += std::string("  map ") + m + " {\n";
    s += "    type ipv4_addr : verdict\n";
    s += "  }\n";
  }
  s += "  chain input {\n";
  s += "    type filter hook input priority filter; policy accept;\n";
  s += "    iifname " + br + " ct state established,related accept\n";
  s += "    iifname " + br + " counter" + log_egress +
       " drop comment \"sandbox to a host service\"\n";
  s += "  }\n";
  // Forwarded traffic from a sandbox passes its egress check, then (towards another sandbox)
  // that one's ingress check; each chain returns when it allows.
  s += "  chain forward {\n";
  s += "    type filter hook forward priority filter; policy accept;\n";
  s += "    iifname " + br + " jump pod_egress\n";
  s += "    oifname " + br + " jump pod_ingress\n";
  s += "  }\n";
  s += "  chain pod_egress {\n";
  s += "    ip saddr != " + pods + " counter drop comment \"not a pod address\"\n";
  if (in.egress == EgressMode::kDenyAll) {
    s += "    counter" + log_egress + " drop comment \"egress denied (deny-all)\"\n";
  } else {
    s += "    ct state established,related return\n";
    s += "    ip saddr vmap @" + std::string(kEgressPolicyMap) + "\n";
    s += "    ip daddr @blocked_egress counter" + log_egress +
         " drop comment \"egress to a blocked range\"\n";
  }
  s += "  }\n";
  s += "  chain pod_ingress {\n";
  s += "    ct state established,related return\n";
  s += "    ip daddr vmap @" + std::string(kIngressPolicyMap) + "\n";
  s += "    counter" + log_ingress + " drop comment \"ingress not from the node\"\n";
  s += "  }\n";
  s += "  chain postrouting {\n";
  s += "    type nat hook postrouting priority srcnat; policy accept;\n";
  s += "    ip saddr " + pods + " oifname != " + br + " masquerade\n";
  s += "  }\n";
  s += "}\n";
  return s;
}

}  // namespace asb::net
