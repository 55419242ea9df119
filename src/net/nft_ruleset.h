// The pod network's firewall as one nftables table, `ip asb`, generated as text for `nft -f`
// (one atomic transaction: the table is replaced whole, never half-applied). Pure: generation is
// unit-tested, PodNetwork applies it.
//
// What it enforces (upstream's managed "secure by default" policy, tightened where a single host
// needs it; see docs/network.md):
//   - ingress: a sandbox accepts connections only from the node itself (the router, probes,
//     exec/port-forward dial its pod IP from the host): forwarded traffic towards the bridge is
//     dropped unless it answers a connection the sandbox opened;
//   - the host: nothing arriving from the bridge reaches a host service (any host address,
//     loopback included) unless it answers the host;
//   - egress (managed): everything except the blocked blocks (private, link-local/metadata,
//     CGNAT, loopback, "this network", multicast and reserved), which also keeps sandboxes from
//     reaching each other through the host; masqueraded out of whatever interface the route
//     picks, so remote hosts see the host's address;
//   - egress (deny-all, for air-gapped hosts): nothing leaves, whatever a template allows;
//   - a sandbox whose template has a networkPolicy: its address is in the maps below, which
//     send its traffic to that policy's chains instead of the managed default (both ways:
//     what the node itself sends a sandbox never crosses the forward hook, so it always
//     arrives).
// Blocked packets are counted (`nft list table ip asb` shows the counters) and, with a log group,
// logged to it per sandbox (net/blocked_log.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/ip.h"

namespace asb::net {

inline constexpr char kNftTable[] = "asb";  // family ip; tests use their own
// Verdict maps from a pod address to `goto` its template's policy chain (network_policy.h).
inline constexpr char kEgressPolicyMap[] = "egress_policy";
inline constexpr char kIngressPolicyMap[] = "ingress_policy";

enum class EgressMode { kManaged, kDenyAll };

struct RulesetInput {
  std::string bridge;  // the pod bridge's name
  Cidr pod_cidr;
  EgressMode egress = EgressMode::kManaged;
  std::string table = kNftTable;
  uint16_t log_group = 0;  // nflog group the drops are logged to (net/blocked_log.h); 0: none
};

// The statement a drop rule logs with: "" without a group, else " log prefix ... group N ...".
std::string LogStatement(uint16_t group, bool egress);
// The blocks managed egress never reaches.
std::vector<Cidr> BlockedEgress();
// The whole `nft -f` input: creates or replaces table ip <in.table>.
std::string BuildRuleset(const RulesetInput& in);

}  // namespace asb::net
