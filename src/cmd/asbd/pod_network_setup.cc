#include "cmd/asbd/pod_network_setup.h"

#include <set>

namespace asb::asbd {

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
  out.policies = std::make_unique<TemplatePolicies>(store, *out.network);
  ASB_RETURN_IF_ERROR(out.policies->Start(live));
  std::map<runtime::Runtime*, net::NetworkedRuntime*> by_inner;
  for (auto& [cls, rt] : runtimes) {
    if (rt == nullptr) continue;
    auto it = by_inner.find(rt);
    if (it == by_inner.end()) {
      out.wrapped.push_back(std::make_unique<net::NetworkedRuntime>(
          *rt, *out.network,
          [p = out.policies.get()](const runtime::SandboxSpec& s) { return p->KeyFor(s); }));
      it = by_inner.emplace(rt, out.wrapped.back().get()).first;
    }
    rt = it->second;
  }
  return out;
}

}  // namespace asb::asbd
