// asbd's pod network (config podNetwork "bridge"): the PodNetwork on the host bridge, and each
// available runtime wrapped so its sandboxes get an address (net/networked_runtime.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "cmd/asbd/config.h"
#include "cmd/asbd/network_blocked.h"
#include "cmd/asbd/template_policies.h"
#include "net/networked_runtime.h"
#include "net/pod_network.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace asb::asbd {

struct PodNetworkSetup {
  std::unique_ptr<net::PodNetwork> network;
  std::vector<std::unique_ptr<net::NetworkedRuntime>> wrapped;  // point into `network`
  std::unique_ptr<TemplatePolicies> policies;                   // its thread uses `network`
  std::unique_ptr<NetworkBlocked> blocked;                      // so does its

  PodNetworkSetup() = default;
  PodNetworkSetup(PodNetworkSetup&&) = default;
  // Member-wise assignment would free `network` while the policies' thread still uses it.
  PodNetworkSetup& operator=(PodNetworkSetup&& other) noexcept {
    Reset();
    network = std::move(other.network);
    wrapped = std::move(other.wrapped);
    policies = std::move(other.policies);
    blocked = std::move(other.blocked);
    return *this;
  }
  ~PodNetworkSetup() { Reset(); }
  // Users first: the threads, the wrappers, then the network.
  void Reset() {
    blocked.reset();
    policies.reset();
    wrapped.clear();
    network.reset();
  }
};

// The nflog group the pod firewall of `bridge` logs its drops to (net/blocked_log.h).
uint16_t BlockedLogGroup(const std::string& bridge);

// Creates the network, frees the addresses of sandboxes no runtime has any more (left by an
// asbd that died mid-start or mid-stop), puts the templates' networkPolicy in force
// (template_policies.h), and replaces each non-null runtime in `runtimes` with its networked
// wrapper. Call before the node agent starts. The store and runtimes must outlive the result.
[[nodiscard]] Result<PodNetworkSetup> StartPodNetwork(
    const DaemonConfig& config, store::Store& store,
    std::map<std::string, runtime::Runtime*>& runtimes);

}  // namespace asb::asbd
