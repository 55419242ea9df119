#include "cmd/asbd/pod_network_setup.h"

#include <set>

#include "base/file_util.h"
#include "base/strings.h"

namespace asb::asbd {

uint16_t BlockedLogGroup(const std::string& bridge) {
  // 0x6100-0x61ff ("a"), from the bridge's name: apart from the low groups other tools default
  // to (ulogd and `nft log group` examples use 0-10).
  uint32_t h = 2166136261u;
  for (unsigned char c : bridge) h = (h ^ c) * 16777619u;
  return static_cast<uint16_t>(0x6100 | (h & 0xff));
}

Result<PodNetworkSetup> StartPodNetwork(const DaemonConfig& config, store::Store& store,
                                        std::map<std::string, runtime::Runtime*>& runtimes) {
  net::PodNetworkOptions opts;
  opts.state_dir = config.state_dir;
  ASB_ASSIGN_OR_RETURN(opts.cidr, net::ParseCidr(config.pod_cidr));
  opts.bridge = config.pod_bridge;
  opts.nft_table = config.pod_nft_table;
  opts.egress =
      config.pod_egress == "deny-all" ? net::EgressMode::kDenyAll : net::EgressMode::kManaged;
  opts.netns_pool = static_cast<size_t>(config.pod_netns_pool);
  // Drops are logged to an nflog group named after the bridge's lock: one daemon per bridge, and
  // a second asbd on its own bridge gets its own group.
  opts.blocked_log_group = BlockedLogGroup(config.pod_bridge);
  if (!config.pod_dns_resolver.empty()) {
    for (const std::string& a : Split(config.pod_dns_resolver, ',')) {
      ASB_ASSIGN_OR_RETURN(net::Ipv4 ip, net::ParseIpv4(a));
      opts.dns_resolver.push_back(ip);
    }
  }
  PodNetworkSetup out;
  ASB_ASSIGN_OR_RETURN(out.network, net::PodNetwork::Create(std::move(opts)));
  std::set<std::string> live;
  std::set<runtime::Runtime*> seen;
  for (auto& [cls, rt] : runtimes) {
    if (rt == nullptr || !seen.insert(rt).second) continue;
    ASB_ASSIGN_OR_RETURN(std::vector<std::string> ids, rt->List());
    live.insert(ids.begin(), ids.end());
  }
  ASB_RETURN_IF_ERROR(out.network->ReleaseAllExcept(live));
  net::DnsDefaults dns;
  dns.nameservers = Split(config.pod_dns_nameservers, ',');
  if (auto host = ReadFile("/etc/resolv.conf")) dns.host_resolv_conf = std::move(*host);
  out.policies = std::make_unique<TemplatePolicies>(store, *out.network, std::move(dns));
  ASB_RETURN_IF_ERROR(out.policies->Start(live));
  out.blocked = std::make_unique<NetworkBlocked>(store, *out.network);
  std::map<runtime::Runtime*, net::NetworkedRuntime*> by_inner;
  for (auto& [cls, rt] : runtimes) {
    if (rt == nullptr) continue;
    auto it = by_inner.find(rt);
    if (it == by_inner.end()) {
      out.wrapped.push_back(std::make_unique<net::NetworkedRuntime>(
          *rt, *out.network,
          [p = out.policies.get()](const runtime::SandboxSpec& s) { return p->PodInfoFor(s); }));
      it = by_inner.emplace(rt, out.wrapped.back().get()).first;
    }
    rt = it->second;
  }
  return out;
}

}  // namespace asb::asbd
