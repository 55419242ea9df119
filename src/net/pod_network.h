// PodNetwork: each sandbox's address on a host bridge. Per sandbox it makes a network namespace
// persisted at <state_dir>/net/ns/<id> (sys/net.h), a veth pair whose sandbox end ("eth0") is
// created straight inside it, an address from the pod CIDR (net/ipam.h, persisted in
// <state_dir>/net/ipam.json) and a default route via the bridge; the runtimes then run the
// sandbox in that namespace (runtime.h SandboxSpec::netns_path). All of it over rtnetlink
// (net/netlink.h): no `ip` process per sandbox.
//
//   host:     bridge asb0 = <first address of the CIDR>/prefix, up
//             veth asbv<hex of the pod address> enslaved to asb0, an isolated bridge port (ports
//             forward only to the bridge, so sandboxes never reach each other at layer 2)
//   sandbox:  lo up; eth0 = <pod address>/prefix, up; default via the bridge's address;
//             ip_unprivileged_port_start 0 and ping_group_range "0 2147483647", because the
//             namespace belongs to the host's user namespace (the sandbox holds no capability
//             over it, so it can neither change its address nor bind below 1024 otherwise)
//
// Firewall: Create loads the nftables table `ip asb` (net/nft_ruleset.h: ingress only from the
// node, managed or deny-all egress, masquerade) from <state_dir>/net/ruleset.nft with `nft -f`,
// once: no rule names a single sandbox, so starts and stops cost no nft call. Managed egress
// needs forwarding: net.ipv4.ip_forward is set to 1, and put back by Shutdown if it was 0 (the
// old value is kept in <state_dir>/net/ip_forward.orig across restarts).
//
// One daemon per bridge: Create takes an exclusive lock, /run/asb/bridge-<name>.lock, held while
// this object lives (two daemons with separate address files on one bridge would hand out the
// same addresses).
//
// Lifetime: sandboxes outlive asbd, and so do their namespaces and addresses; a new PodNetwork
// on the same state dir keeps the bridge and the addresses, and ReleaseAllExcept frees what
// belongs to no sandbox any more. Shutdown removes the bridge once no sandbox has an address.
//
// Pre-wiring (netns_pool > 0): a thread keeps that many namespaces wired under
// <state_dir>/net/pool/<n>, their addresses held in the IPAM as "pool:<n>"; Attach then hands one
// to the sandbox (its address renamed to the sandbox's id, <state_dir>/net/ns/<id> a symlink to
// it) instead of wiring on the start path (net/netns_pool.h says why). A stopped sandbox's
// pre-wired namespace goes back to the pool with its veth and address (its address held as
// "pool:<n>" again) and, once scrubbed (net/netns_scrub.h), is handed out again: so the next
// sandbox may get the address of one just deleted. Entries not handed out when the object goes,
// and any a dead daemon left, are destroyed.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "net/blocked_log.h"
#include "net/dns_names.h"
#include "net/ip.h"
#include "net/ipam.h"
#include "net/netns_pool.h"
#include "net/nft_ruleset.h"
#include "net/policy_firewall.h"

namespace asb::net {

struct PodNetworkOptions {
  std::string state_dir;  // required: <state_dir>/net holds ipam.json and ns/
  Cidr cidr{Ipv4{(10u << 24) | (244u << 16)}, 16};  // 10.244.0.0/16
  std::string bridge = "asb0";
  EgressMode egress = EgressMode::kManaged;
  std::string nft_path = "nft";  // Debian's nftables
  std::string nft_table = kNftTable;
  size_t netns_pool = 0;  // namespaces kept wired ahead of need; 0: wire each on Attach
  // nflog group the firewall logs its drops to, read back to count them per sandbox
  // (net/blocked_log.h); 0: not counted.
  uint16_t blocked_log_group = 0;
  // The nameservers the node resolves dnsName peers with (net/dns_names.h); empty: those of
  // the host's /etc/resolv.conf.
  std::vector<Ipv4> dns_resolver;
};

struct PodAttachment {
  std::string netns_path;
  Ipv4 ip;
};

class PodNetwork {
 public:
  // Creates the bridge (or takes the existing one) and loads the addresses in use. Errors:
  // kFailedPrecondition when the CIDR overlaps a host route that is not the bridge's (it would
  // hide part of the host's network) or another daemon holds the bridge; kInvalidArgument (bad
  // CIDR or address file); kNotFound when `nft` is missing; netlink and nft errors.
  [[nodiscard]] static Result<std::unique_ptr<PodNetwork>> Create(PodNetworkOptions options);

  // Gives sandbox `id` its namespace, veth and address (a pre-wired one when the pool has one
  // ready). kAlreadyExists when it has them already; kResourceExhausted when the CIDR is full.
  // Leaves nothing behind on failure.
  // `policy_key` names the networkPolicy it follows (policy_firewall.h; "" = the default).
  [[nodiscard]] Result<PodAttachment> Attach(const std::string& id,
                                             const std::string& policy_key = "");
  // Takes away id's veth, namespace and address: a pre-wired one goes back to the pool, the
  // rest is removed. OK when it has none. Idempotent.
  [[nodiscard]] Status Detach(const std::string& id);
  std::optional<Ipv4> PodIP(const std::string& id) const { return ipam_->Lookup(id); }
  // Sets (nullopt: removes) the networkPolicy of `key` for its sandboxes, running and to come.
  // Its dnsName peers are resolved from then on (dns_names.h), off the caller's path.
  [[nodiscard]] Status SetPolicy(const std::string& key, const std::optional<NetworkPolicy>& p);
  // For a sandbox re-adopted after a restart: it follows `key` again (the table was rebuilt).
  [[nodiscard]] Status Rejoin(const std::string& id, const std::string& key) {
    auto ip = PodIP(id);
    return ip ? firewall_.Join(id, *ip, key) : OkStatus();
  }
  std::string NetnsPath(const std::string& id) const;
  // Drops counted per sandbox id, for the sandboxes that had any (since they got their address).
  std::map<std::string, BlockedCounts> Blocked() const;

  // Detaches every sandbox not in `live` (left by an asbd that died mid-start or mid-stop).
  // Call before anything starts sandboxes.
  [[nodiscard]] Status ReleaseAllExcept(const std::set<std::string>& live);
  // Stops pre-wiring and destroys the pool's namespaces; then removes the bridge and the
  // firewall table (and restores ip_forward) when no sandbox holds an address (else they keep
  // all three). Idempotent.
  void Shutdown();

  const PodNetworkOptions& options() const { return options_; }
  Ipv4 gateway() const { return ipam_->gateway(); }
  static std::string VethName(Ipv4 ip);  // "asbv0af40005"
  size_t pool_ready() const { return pool_ ? pool_->ready() : 0; }
  // Pre-wired namespaces made new, and used ones handed out again, since Create.
  uint64_t pool_made() const { return pool_ ? pool_->made() : 0; }
  uint64_t pool_recycled() const { return pool_ ? pool_->recycled() : 0; }

 private:
  PodNetwork(PodNetworkOptions options, UniqueFd lock, std::unique_ptr<Ipam> ipam, int bridge_index)
      : options_(std::move(options)),
        lock_(std::move(lock)),
        ipam_(std::move(ipam)),
        bridge_index_(bridge_index),
        firewall_(options_.nft_path, options_.nft_table, options_.state_dir + "/net/policy.nft",
                  options_.blocked_log_group) {}
  void OnBlocked(const BlockedPacket& p);
  [[nodiscard]] Result<PodAttachment> Wired(const std::string& id);
  // Wires the namespace persisted at `path` (made here) with address `ip`.
  [[nodiscard]] Status Wire(const std::string& path, Ipv4 ip);
  std::string PoolDir() const;
  [[nodiscard]] Result<WiredNetns> PreWire();
  void Unwire(const WiredNetns& entry);
  // Destroys pool entries a dead daemon left (their files and addresses).
  [[nodiscard]] Status DropLeftoverPool();
  [[nodiscard]] Result<PodAttachment> AttachPreWired(const std::string& id, WiredNetns entry);

  const PodNetworkOptions options_;
  UniqueFd lock_;  // flock'ed: this daemon owns the bridge
  std::unique_ptr<Ipam> ipam_;
  const int bridge_index_;
  UniqueFd parent_ns_;  // pod namespaces are made inside it (pod_network.cc says why)
  PolicyFirewall firewall_;
  std::atomic<uint64_t> pool_seq_{0};
  mutable std::mutex blocked_mu_;
  std::map<Ipv4, BlockedCounts> blocked_;      // by pod address; guarded by blocked_mu_
  std::unique_ptr<BlockedLog> blocked_log_;    // its thread calls OnBlocked
  std::unique_ptr<DnsNameWatcher> dns_names_;  // its thread calls firewall_
  std::unique_ptr<NetnsPool> pool_;            // last: its thread uses the members above
};

}  // namespace asb::net
