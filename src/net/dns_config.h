// A sandbox's /etc/resolv.conf from its pod's spec.dnsPolicy and spec.dnsConfig, as a kubelet
// writes it, on a node that has no cluster DNS. Pure: NetworkedRuntime writes the text to a
// file of the sandbox's and bind-mounts it read-only on /etc/resolv.conf (both runtimes).
//
//   - upstream's secure default first (its controllers' ApplySandboxSecureDefaults): a pod of a
//     template whose networkPolicyManagement is Managed with no networkPolicy, and which sets no
//     dnsPolicy, gets dnsPolicy None with the node's default nameservers (upstream: 8.8.8.8 and
//     1.1.1.1; config podDNSNameservers on air-gapped hosts), its own dnsConfig replaced;
//   - None: exactly spec.dnsConfig (nameservers, searches, options);
//   - Default: the node's resolv.conf without its loopback and IPv6 servers (a sandbox has its
//     own loopback and IPv4 only: 127.0.0.53, systemd-resolved's stub, answers nobody in there),
//     then spec.dnsConfig merged in as a kubelet does (servers and searches appended, options
//     overriding by name). Left with no server (a host with only 127.0.0.53), the node's default
//     nameservers stand in;
//   - ClusterFirst (the Kubernetes default) and ClusterFirstWithHostNet: with no cluster DNS a
//     kubelet falls back to Default, and so does this.
// At most 3 nameservers, 32 search domains and 2048 characters of them (kubelet's limits): the
// rest are dropped, as a kubelet does. A value that could break the file's syntax (whitespace,
// a '#', a server that is not an IP address) is refused: kInvalidArgument naming the field.
#pragma once

#include <string>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"

namespace asb::net {

// The upstream secure default's servers.
inline const std::vector<std::string> kDefaultPodNameservers = {"8.8.8.8", "1.1.1.1"};

struct DnsDefaults {
  std::vector<std::string> nameservers = kDefaultPodNameservers;
  std::string host_resolv_conf;  // the text of the node's /etc/resolv.conf
};

// `pod_spec` is the pod's spec; `managed_default`: its template is Managed without a
// networkPolicy (the secure default applies).
[[nodiscard]] Result<std::string> ResolvConfFor(const Json& pod_spec, bool managed_default,
                                                const DnsDefaults& defaults);

}  // namespace asb::net
