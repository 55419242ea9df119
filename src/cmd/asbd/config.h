// asbd's configuration: one JSON file (--config), defaults as member initializers, a few flags on
// top (precedence: defaults < file < flags). `asbd serve --print-config` prints the effective one.
// Parsing is strict: unknown keys and bad values are errors with a JSON-pointer path.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"

namespace asb::asbd {

struct ImageAliasConfig {
  std::string pattern;  // glob over the image reference, e.g.
                        // "registry.k8s.io/agent-sandbox/python-runtime-sandbox:*"
  std::string image;    // built-in or local image it maps to, e.g. "python-runtime"
};

// The built-in table: the upstream python-runtime-sandbox image -> the built-in python-runtime.
std::vector<ImageAliasConfig> DefaultImageAliases();

struct DaemonConfig {
  std::string state_dir;                      // store, token, kubeconfig, sandboxes; created 0700
  std::string api_listen = "127.0.0.1:6443";  // host:port; port 0 picks a free port
  std::string router_listen = "127.0.0.1:8080";
  size_t max_request_bytes = 3 * 1024 * 1024;  // larger API bodies get 413

  std::string node_name = "asb-node";            // the one node of embedded mode
  std::string default_runtime_class = "native";  // for pods without runtimeClassName
  int node_workers = 8;                          // concurrent pod starts/stops
  bool enable_native = true;                     // runtime class "native"
  // Runtime class "gvisor": "auto" enables it when runsc runs here, "on" requires it, "off".
  std::string gvisor = "auto";
  std::string runsc_path = "runsc";
  std::string runsc_platform = "ptrace";  // kvm hangs on this machine kind; see docs
  // Image aliases, first match wins. A config file's list replaces this one entirely.
  std::vector<ImageAliasConfig> image_aliases = DefaultImageAliases();
  // OCI images: the registry for references that name none ("" = such references are not
  // pulled), and registries spoken to over plain HTTP besides the loopback ones.
  std::string default_registry;
  std::vector<std::string> insecure_registries;
  // Registry host -> mirrors tried first, in order ("registryMirrors").
  std::map<std::string, std::vector<std::string>> registry_mirrors;
  // "images": {"diskBudget": "10Gi"}: the image cache's disk budget in bytes; 0 = none.
  int64_t image_disk_budget_bytes = 0;
  int controller_workers = 4;  // per kind (sandbox, claim); pools use half
  // Pod network (net/pod_network.h): "bridge" gives each sandbox a veth and an address from
  // pod_cidr on the host bridge pod_bridge; "none" leaves sandboxes with only lo (reached by
  // entering their network namespace).
  std::string pod_network = "bridge";
  std::string pod_cidr = "10.244.0.0/16";
  std::string pod_bridge = "asb0";
  // The nftables table (family ip) of the pod network's rules. Two node processes on one
  // machine (`asbd node`) each need their own, as they need their own bridge and CIDR.
  std::string pod_nft_table = "asb";
  // The cgroup below which sandboxes get theirs (BestEffort ones below "<parent>-besteffort").
  std::string cgroup_parent = "/asb";
  // Egress from sandboxes (net/nft_ruleset.h): "managed" (the public internet, never private,
  // link-local, CGNAT or the host's own addresses) or "deny-all" (air-gapped hosts).
  std::string pod_egress = "managed";
  // Network namespaces kept wired ahead of need (net/netns_pool.h); 0: wire each on start.
  int pod_netns_pool = 8;
  // DNS (docs/network.md): the nameservers of upstream's secure default (a Managed template
  // without a networkPolicy), and where the host has none a sandbox can reach; comma list.
  std::string pod_dns_nameservers = "8.8.8.8,1.1.1.1";
  // The servers the node resolves templates' egress dnsName peers with (comma list of IPv4
  // addresses); "" = the host's /etc/resolv.conf.
  std::string pod_dns_resolver;
  // Largest PersistentVolumeClaim the node-local provisioner makes (larger ones stay Pending).
  int64_t max_volume_bytes = int64_t{64} << 30;
  // Scale tests only (docs/scale.md): the node role runs simulated sandboxes (runtime/simulated:
  // records, Ready at once, nothing runs) instead of native/gVisor ones, without a pod network,
  // volumes or cgroups. Never where a test checks isolation or behaviour.
  bool simulate = false;
  // A real node raises at start the host settings thousands of sandboxes need (kernel.pid_max,
  // the neighbour table, conntrack, its open files limit), never lowering one the admin set
  // higher (docs/density.md). false: leaves the host as it is.
  bool host_limits = true;
  // How long a warm pool waits to replace a member a claim took, so the claim's Ready and its
  // first exec do not share the CPU with the replacement's start (docs/cpu.md); 0: at once.
  int64_t refill_after_claim_ms = 10;
};

// Overlays a JSON config file onto `config`. kInvalidArgument with "/path: problem".
[[nodiscard]] Status ApplyConfigJson(const Json& file, DaemonConfig* config);
[[nodiscard]] Status LoadConfigFile(const std::string& path, DaemonConfig* config);
[[nodiscard]] Status Validate(const DaemonConfig& config);
Json ConfigToJson(const DaemonConfig& config);

}  // namespace asb::asbd
