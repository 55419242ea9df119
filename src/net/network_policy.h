// A SandboxTemplate's spec.networkPolicy (upstream's v1beta1 NetworkPolicySpec: ingress and
// egress lists of Kubernetes NetworkPolicy rules) parsed, validated and turned into the nftables
// rules of two chains, one per direction. Pure: PodNetwork loads the chains and points the
// sandboxes' addresses at them (pod_network.h).
//
// Kubernetes semantics, as they apply on one node (docs/network.md):
//   - a direction's list holds allow rules; traffic matching none is dropped, so an empty list
//     allows nothing (upstream: "Default Deny");
//   - a rule without peers (`to`/`from` absent or empty) matches every address; without ports,
//     every port; otherwise an address matching one ipBlock (cidr, minus its excepts) and a
//     port matching one entry (protocol TCP by default, port, endPort);
//   - podSelector / namespaceSelector peers name other pods. On one node those are the other
//     sandboxes, which never reach each other (the bridge isolates them and a sandbox's ingress
//     takes only the node), and the router, which is the node itself and always reaches
//     sandboxes (as a kubelet's probes do). So such a peer adds no address;
//   - IPv6 ipBlocks match nothing (sandboxes have IPv4 only); named ports (strings) match
//     nothing (on egress they name a destination pod's port);
//   - an asb extension, egress only: a `dnsName` peer ({"dnsName": "pypi.org"}) matches the
//     addresses the node resolves that name to, kept current (dns_names.h): upstream has no such
//     peer (E2B and Modal offer one; Cilium's toFQDNs is the like). Exact names only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"
#include "net/ip.h"

namespace asb::net {

struct PolicyPort {
  std::string protocol = "tcp";  // tcp, udp, sctp
  int port = 0;                  // 0: every port
  int end_port = 0;              // 0: just `port`
};

struct PolicyBlock {
  Cidr cidr;
  std::vector<Cidr> except;
};

struct PolicyRule {
  bool any_peer = false;               // no peers given: every address
  std::vector<PolicyBlock> blocks;     // IPv4 ipBlocks
  std::vector<std::string> dns_names;  // dnsName peers (egress), lowercase, no final dot
  bool any_port = false;               // no ports given
  std::vector<PolicyPort> ports;       // numbered ports
};

struct NetworkPolicy {
  std::vector<PolicyRule> ingress;
  std::vector<PolicyRule> egress;
};

// Parses spec.networkPolicy. kInvalidArgument naming the field (e.g.
// "networkPolicy.egress[0].to[1].ipBlock.cidr: ...") on a malformed one.
[[nodiscard]] Result<NetworkPolicy> ParseNetworkPolicy(const Json& j);

// The body of an nft chain for one direction: one rule per (peer, port) pair that `return`s
// (allowed: the caller goes on), then a counted drop. `egress` matches destination addresses,
// else source addresses. `drop_log` is a statement the drop rule also runs (a log to an nflog
// group: nft_ruleset.h LogStatement), or "". Rule i's dnsName peers are one peer, the nft set
// `<dns_set_prefix><i>` (the caller declares and fills it).
std::string PolicyChainRules(const std::vector<PolicyRule>& rules, bool egress,
                             const std::string& drop_log = "",
                             const std::string& dns_set_prefix = "dns_");

// Whether `name` may be a dnsName peer: lowercase letters, digits and '-' in labels of 1-63,
// at most 253 in all, at least two labels, no wildcard; "" when so, else why not.
std::string DnsNameProblem(std::string_view name);

}  // namespace asb::net
