// TemplatePolicies: the SandboxTemplates' networkPolicy, enforced by the node's pod firewall
// (net/policy_firewall.h), as upstream's template controller makes one shared NetworkPolicy per
// template for the cluster's CNI to enforce:
//   - networkPolicyManagement Unmanaged, or Managed without a networkPolicy: nothing of the
//     template's own; its sandboxes get the node's default (podEgress: upstream's secure
//     default, or deny-all);
//   - Managed with a networkPolicy: exactly that policy (net/network_policy.h), for the
//     template's sandboxes running and to come. One the node cannot parse denies everything
//     (fail closed) and is logged.
// A sandbox belongs to the template its pod's agents.x-k8s.io/sandbox-template-ref-hash label
// names, within the pod's namespace (warm pool and claim sandboxes carry it). Deny-all on the
// node wins over any policy.
//
// It also gives each sandbox its /etc/resolv.conf (net/dns_config.h): upstream's secure default
// (public resolvers) for a Managed template without a networkPolicy whose pod sets no dnsPolicy.
//
// A watch thread follows template changes. Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "base/json_util.h"
#include "base/result.h"
#include "net/dns_config.h"
#include "net/networked_runtime.h"
#include "net/pod_network.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace asb::asbd {

class TemplatePolicies {
 public:
  // Both must outlive this.
  TemplatePolicies(store::Store& store, net::PodNetwork& network, net::DnsDefaults dns = {})
      : store_(store), network_(network), dns_(std::move(dns)) {}
  ~TemplatePolicies() { Stop(); }

  // Puts the re-adopted sandboxes in `live` back under their templates' policies, applies every
  // template's, then follows changes. Call before sandboxes start.
  [[nodiscard]] Status Start(const std::set<std::string>& live);
  void Stop();

  // The policy key ("<namespace>/<template name hash>") of the sandbox `spec` starts; "" when
  // its pod names no template.
  std::string KeyFor(const runtime::SandboxSpec& spec);
  // Its policy key and resolv.conf (one store read). kInvalidArgument for a pod dnsConfig the
  // node cannot write.
  [[nodiscard]] Result<net::NetworkedRuntime::PodInfo> PodInfoFor(const runtime::SandboxSpec& spec);

 private:
  [[nodiscard]] Result<int64_t> ApplyAll();
  void Apply(const Json& tmpl);
  void Loop(int64_t revision);

  store::Store& store_;
  net::PodNetwork& network_;
  const net::DnsDefaults dns_;
  std::mutex mu_;
  std::set<std::string> managed_default_;  // keys of Managed templates without a policy; mu_
  std::set<std::string> applied_;  // keys with a policy; only the starting and watch threads
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace asb::asbd
