#include "net/pod_network.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>
#include <vector>

#include "base/file_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "net/netlink.h"
#include "net/netns_scrub.h"
#include "net/policy_firewall.h"
#include "runtime/runtime.h"
#include "sys/command.h"
#include "sys/net.h"

namespace asb::net {
namespace {

constexpr char kSandboxIfname[] = "eth0";
// The IPAM holder of a pre-wired namespace's address; ':' is in no sandbox id.
constexpr char kPoolKeyPrefix[] = "pool:";

// Writes a sysctl of the calling thread's network namespace.
Status WriteSysctl(const std::string& name, const std::string& value) {
  std::string path = "/proc/sys/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoUnexpected("open " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return ErrnoUnexpected("write " + path);
  }
  return {};
}

// The sandbox side, on a thread of its own inside the namespace (sysctls under /proc/sys/net
// are those of the writing thread's namespace).
Status WireInside(int netns_fd, Ipv4 ip, int prefix, Ipv4 gateway) {
  std::optional<Status> out;
  std::thread t([&] {
    out.emplace([&]() -> Status {
      if (::setns(netns_fd, CLONE_NEWNET) != 0) return ErrnoUnexpected("setns into sandbox netns");
      ASB_RETURN_IF_ERROR(WriteSysctl("net/ipv4/ip_unprivileged_port_start", "0"));
      ASB_RETURN_IF_ERROR(WriteSysctl("net/ipv4/ping_group_range", "0 2147483647"));
      // Nothing of one sandbox's traffic outlives it in a reused namespace (netns_scrub.h).
      ASB_RETURN_IF_ERROR(WriteSysctl("net/ipv4/tcp_no_metrics_save", "1"));
      // IPv4 only (docs/network.md): the firewall is `ip` family and never sees IPv6, so none
      // is left on in here for a path to the host's [::] services to rest on the kernel's
      // defaults alone. No IPv6 in the kernel (ENOENT): nothing to turn off.
      for (const char* conf : {"all", "default"}) {
        Status st = WriteSysctl(std::string("net/ipv6/conf/") + conf + "/disable_ipv6", "1");
        if (!st && st.error().sys_errno != ENOENT) return st;
      }
      ASB_ASSIGN_OR_RETURN(Netlink nl, Netlink::Open());
      ASB_ASSIGN_OR_RETURN(int eth, nl.LinkIndex(kSandboxIfname));
      ASB_RETURN_IF_ERROR(nl.AddAddress(eth, ip, prefix));
      ASB_RETURN_IF_ERROR(nl.SetUp(eth));
      return nl.AddDefaultRoute(gateway, eth);
    }());
  });
  t.join();
  return std::move(*out);
}

// The TCP hash of each pod namespace: its own, this small (net/netns_scrub.h walks it to find
// a stopped sandbox's leftover sockets; walking the host's shared one, 262144 buckets here, took
// 11% of the CPU in e2e_bench's sustained section).
constexpr char kPodTcpHashBuckets[] = "1024";

// A namespace that only parents the pod namespaces (net.ipv4.tcp_child_ehash_entries is read
// from the namespace a new one is made in; set in the host's it would change every namespace
// anyone makes). An empty fd when the kernel has no such setting (before Linux 5.19): pod
// namespaces then share the host's TCP hash.
Result<UniqueFd> MakeParentNetns() {
  std::optional<Result<UniqueFd>> out;
  std::thread t([&] {
    out.emplace([&]() -> Result<UniqueFd> {
      if (::unshare(CLONE_NEWNET) != 0) return ErrnoUnexpected("unshare(CLONE_NEWNET)");
      UniqueFd ns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      if (!ns) return ErrnoUnexpected("open /proc/thread-self/ns/net");
      Status st = WriteSysctl("net/ipv4/tcp_child_ehash_entries", kPodTcpHashBuckets);
      if (!st && st.error().code == Code::kNotFound) return UniqueFd();
      ASB_RETURN_IF_ERROR(st);
      return ns;
    }());
  });
  t.join();
  return std::move(*out);
}

constexpr char kIpForward[] = "/proc/sys/net/ipv4/ip_forward";
std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  return names;
}

// Forwarding on, remembering what it was the first time (a restarted daemon finds it on).
Status EnableForwarding(const std::string& orig_path) {
  ASB_ASSIGN_OR_RETURN(std::string now, ReadFile(kIpForward));
  if (now.rfind('1', 0) == 0) return {};
  if (!PathExists(orig_path)) ASB_RETURN_IF_ERROR(AtomicWriteFile(orig_path, now, 0600));
  return WriteSysctl("net/ipv4/ip_forward", "1");
}

}  // namespace

std::string PodNetwork::VethName(Ipv4 ip) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "asbv%08x", ip.value);
  return buf;
}

std::string PodNetwork::NetnsPath(const std::string& id) const {
  return options_.state_dir + "/net/ns/" + id;
}

std::string PodNetwork::PoolDir() const { return options_.state_dir + "/net/pool"; }

Result<std::unique_ptr<PodNetwork>> PodNetwork::Create(PodNetworkOptions options) {
  if (options.state_dir.empty()) return MakeError(Code::kInvalidArgument, "no state dir given");
  ASB_RETURN_IF_ERROR(MakeDirs(options.state_dir + "/net/ns", 0700));
  ASB_RETURN_IF_ERROR(MakeDirs(options.state_dir + "/net/pool", 0700));
  ASB_RETURN_IF_ERROR(MakeDirs("/run/asb", 0700));
  const std::string lock_path = "/run/asb/bridge-" + options.bridge + ".lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return ErrnoUnexpected("open " + lock_path);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoUnexpected("lock " + lock_path);
    return MakeError(Code::kFailedPrecondition,
                     "bridge " + options.bridge +
                         " is in use by another asbd: give this one its own podBridge and "
                         "podCIDR, or podNetwork \"none\"");
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<Ipam> ipam,
                       Ipam::Open(options.state_dir + "/net/ipam.json", options.cidr));
  ASB_ASSIGN_OR_RETURN(Netlink nl, Netlink::Open());
  auto bridge = nl.LinkIndex(options.bridge);
  if (!bridge && bridge.error().code != Code::kNotFound) return tl::unexpected(bridge.error());
  ASB_ASSIGN_OR_RETURN(std::vector<RouteInfo> routes, nl.ListRoutes());
  for (const RouteInfo& r : routes) {
    if (r.dst.prefix == 0 || (bridge && r.ifindex == *bridge)) continue;
    if (Overlaps(r.dst, options.cidr)) {
      return MakeError(Code::kFailedPrecondition,
                       "pod CIDR " + ToString(options.cidr) + " overlaps the host route to " +
                           ToString(r.dst) + ": choose another one (podCIDR in the config)");
    }
  }
  if (!bridge) {
    ASB_RETURN_IF_ERROR(nl.CreateBridge(options.bridge));
    bridge = nl.LinkIndex(options.bridge);
    if (!bridge) return tl::unexpected(bridge.error());
  }
  ASB_RETURN_IF_ERROR(nl.AddAddress(*bridge, ipam->gateway(), options.cidr.prefix));
  // The firewall before the bridge is up: no packet ever crosses it unfiltered.
  const std::string ruleset = options.state_dir + "/net/ruleset.nft";
  ASB_RETURN_IF_ERROR(AtomicWriteFile(ruleset,
                                      BuildRuleset({options.bridge, options.cidr, options.egress,
                                                    options.nft_table, options.blocked_log_group}),
                                      0600));
  ASB_RETURN_IF_ERROR(RunNft(options.nft_path, {"-f", ruleset}));
  if (options.egress == EgressMode::kManaged) {
    ASB_RETURN_IF_ERROR(EnableForwarding(options.state_dir + "/net/ip_forward.orig"));
  }
  ASB_RETURN_IF_ERROR(nl.SetUp(*bridge));
  ASB_LOG(INFO, "pod network ready", "bridge", options.bridge, "cidr", ToString(options.cidr),
          "in_use", ipam->All().size());
  std::unique_ptr<PodNetwork> net(
      new PodNetwork(std::move(options), std::move(lock), std::move(ipam), *bridge));
  ASB_ASSIGN_OR_RETURN(net->parent_ns_, MakeParentNetns());
  if (net->options_.blocked_log_group != 0) {
    PodNetwork* self = net.get();
    auto log = BlockedLog::Start(net->options_.blocked_log_group,
                                 [self](const BlockedPacket& p) { self->OnBlocked(p); });
    if (log) {
      net->blocked_log_ = std::move(*log);
    } else {
      ASB_LOG(WARN, "pod network: blocked connections are not counted", "error",
              log.error().message);
    }
  }
  {
    PodNetwork* self = net.get();
    std::vector<Ipv4> servers = net->options_.dns_resolver;
    net->dns_names_ = std::make_unique<DnsNameWatcher>(
        [servers](const std::string& name) {
          constexpr std::chrono::milliseconds kTimeout{2000};
          if (!servers.empty()) return ResolveA(name, servers, kTimeout);
          auto conf = ReadFile("/etc/resolv.conf");  // read each time: the host's may change
          return ResolveA(name, NameserversOf(conf ? *conf : ""), kTimeout);
        },
        [self](const std::string& name, const std::vector<Ipv4>& addrs) {
          std::vector<std::string> shown;
          for (Ipv4 ip : addrs) shown.push_back(ToString(ip));
          ASB_LOG(INFO, "pod network: an egress dnsName resolved", "name", name, "addresses",
                  Join(shown, ","));
          if (Status st = self->firewall_.SetNameAddresses(name, addrs); !st) {
            ASB_LOG(WARN, "pod network: updating a dnsName's addresses", "name", name, "error",
                    st.error().message);
          }
        });
  }
  ASB_RETURN_IF_ERROR(net->DropLeftoverPool());
  if (net->options_.netns_pool > 0) {
    PodNetwork* self = net.get();
    net->pool_ = std::make_unique<NetnsPool>(
        net->options_.netns_pool, [self] { return self->PreWire(); },
        [self](const WiredNetns& e) { self->Unwire(e); },
        [](const WiredNetns& e) -> Status {
          UniqueFd ns(::open(e.path.c_str(), O_RDONLY | O_CLOEXEC));
          if (!ns) return ErrnoUnexpected("open " + e.path);
          return ScrubNetns(ns.get());
        });
  }
  return net;
}

Result<PodAttachment> PodNetwork::Attach(const std::string& id, const std::string& policy_key) {
  ASB_ASSIGN_OR_RETURN(PodAttachment a, Wired(id));
  // The policy before the sandbox runs: a failure undoes the attachment.
  if (Status st = firewall_.Join(id, a.ip, policy_key); !st) {
    if (Status d = Detach(id); !d) {
      ASB_LOG(WARN, "pod network: cleanup after a failed attach", "id", id, "error",
              d.error().message);
    }
    return tl::unexpected(st.error().Wrap("pod network for " + id));
  }
  return a;
}

Result<PodAttachment> PodNetwork::Wired(const std::string& id) {
  ASB_RETURN_IF_ERROR(runtime::ValidateSandboxId(id));
  const std::string path = NetnsPath(id);
  if (PathExists(path)) {
    return MakeError(Code::kAlreadyExists, "sandbox " + id + " already has a network namespace");
  }
  if (pool_) {
    if (std::optional<WiredNetns> e = pool_->Take()) return AttachPreWired(id, std::move(*e));
  }
  ASB_ASSIGN_OR_RETURN(Ipv4 ip, ipam_->Allocate(id));
  if (Status st = Wire(path, ip); !st) {
    if (Status d = Detach(id); !d) {
      ASB_LOG(WARN, "pod network: cleanup after a failed attach", "id", id, "error",
              d.error().message);
    }
    return tl::unexpected(st.error().Wrap("pod network for " + id));
  }
  return PodAttachment{path, ip};
}

Status PodNetwork::Wire(const std::string& path, Ipv4 ip) {
  ASB_RETURN_IF_ERROR(sys::CreatePersistentNetns(path, parent_ns_.get()));
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return ErrnoUnexpected("open " + path);
  ASB_ASSIGN_OR_RETURN(Netlink nl, Netlink::Open());
  const std::string veth = VethName(ip);
  Status made = nl.CreateVethPair(veth, bridge_index_, kSandboxIfname, ns.get());
  if (!made && made.error().code == Code::kAlreadyExists) {
    // The veth of an earlier holder of this address whose namespace the kernel has not
    // destroyed yet (Detach): it carries this address's name, so it is ours and stale.
    ASB_RETURN_IF_ERROR(nl.DeleteLink(veth));
    made = nl.CreateVethPair(veth, bridge_index_, kSandboxIfname, ns.get());
  }
  ASB_RETURN_IF_ERROR(made);
  ASB_ASSIGN_OR_RETURN(int host, nl.LinkIndex(veth));
  ASB_RETURN_IF_ERROR(nl.SetBridgePortIsolated(host));
  ASB_RETURN_IF_ERROR(nl.SetUp(host));
  return WireInside(ns.get(), ip, options_.cidr.prefix, ipam_->gateway());
}

Result<WiredNetns> PodNetwork::PreWire() {
  const std::string n = std::to_string(pool_seq_.fetch_add(1));
  WiredNetns e{std::string(kPoolKeyPrefix) + n, PoolDir() + "/" + n, Ipv4{}};
  ASB_ASSIGN_OR_RETURN(e.ip, ipam_->Allocate(e.key));
  if (Status st = Wire(e.path, e.ip); !st) {
    Unwire(e);
    return tl::unexpected(st.error());
  }
  return e;
}

void PodNetwork::Unwire(const WiredNetns& e) {
  if (Status st = sys::RemovePersistentNetns(e.path); !st) {
    // Keep the address held: the namespace (and its veth, named after it) may still be there.
    ASB_LOG(WARN, "pod network: removing a pre-wired namespace", "path", e.path, "error",
            st.error().message);
    return;
  }
  if (Status st = ipam_->Release(e.key); !st) {
    ASB_LOG(WARN, "pod network: releasing a pre-wired address", "key", e.key, "error",
            st.error().message);
  }
}

Status PodNetwork::DropLeftoverPool() {
  for (const auto& [key, ip] : ipam_->All()) {
    if (key.rfind(kPoolKeyPrefix, 0) != 0) continue;
    ASB_RETURN_IF_ERROR(
        sys::RemovePersistentNetns(PoolDir() + "/" + key.substr(sizeof(kPoolKeyPrefix) - 1)));
    ASB_RETURN_IF_ERROR(ipam_->Release(key));
  }
  // Files no sandbox's symlink names: whose address was released already (a daemon that died
  // between the two steps) or that were retired and not yet unmounted.
  std::set<std::string> in_use;
  for (const std::string& id : ListDir(options_.state_dir + "/net/ns")) {
    char target[PATH_MAX];
    ssize_t n = ::readlink(NetnsPath(id).c_str(), target, sizeof(target) - 1);
    if (n > 0) in_use.insert(std::string(target, static_cast<size_t>(n)));
  }
  uint64_t next = 0;
  for (const std::string& name : ListDir(PoolDir())) {
    const std::string path = PoolDir() + "/" + name;
    if (!in_use.count(path)) {
      ASB_RETURN_IF_ERROR(sys::RemovePersistentNetns(path));
      continue;
    }
    // A live sandbox's namespace keeps its number: new entries get others.
    next = std::max<uint64_t>(next, std::strtoull(name.c_str(), nullptr, 10) + 1);
  }
  pool_seq_ = next;
  return {};
}

Result<PodAttachment> PodNetwork::AttachPreWired(const std::string& id, WiredNetns e) {
  if (Status st = ipam_->Rename(e.key, id); !st) {
    Unwire(e);
    return tl::unexpected(st.error().Wrap("pod network for " + id));
  }
  // A symlink names the sandbox's namespace: the namespace file is a mount point, which rename
  // cannot move, and a second bind mount would cost a mount and an unmount per start.
  const std::string path = NetnsPath(id);
  if (::symlink(e.path.c_str(), path.c_str()) != 0) {
    Status st = ErrnoUnexpected("symlink " + path);
    Unwire(WiredNetns{id, e.path, e.ip});
    return tl::unexpected(st.error().Wrap("pod network for " + id));
  }
  return PodAttachment{path, e.ip};
}

void PodNetwork::OnBlocked(const BlockedPacket& p) {
  std::lock_guard l(blocked_mu_);
  CountBlocked(p, options_.cidr, &blocked_);
}

std::map<std::string, BlockedCounts> PodNetwork::Blocked() const {
  std::map<Ipv4, BlockedCounts> by_ip;
  {
    std::lock_guard l(blocked_mu_);
    by_ip = blocked_;
  }
  std::map<std::string, BlockedCounts> out;
  for (const auto& [ip, c] : by_ip) {
    std::optional<std::string> id = ipam_->HolderOf(ip);
    if (id && id->rfind(kPoolKeyPrefix, 0) != 0) out[*id] = c;
  }
  return out;
}

Status PodNetwork::Detach(const std::string& id) {
  ASB_RETURN_IF_ERROR(runtime::ValidateSandboxId(id));
  ASB_RETURN_IF_ERROR(firewall_.Leave(id));
  if (std::optional<Ipv4> ip = ipam_->Lookup(id)) {
    std::lock_guard l(blocked_mu_);
    blocked_.erase(*ip);  // the next holder of the address starts from nothing
  }
  // Unmounting drops the last reference once the sandbox's processes are gone, and the kernel
  // then destroys the namespace and the veth pair with it, asynchronously: deleting the veth here
  // would wait for RCU grace periods (~20-30 ms per stop, measured). The address can be handed
  // out again before the old veth is gone only after the whole CIDR went round (ipam.h), and
  // Wire replaces a stale veth of that name.
  const std::string path = NetnsPath(id);
  char target[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
  if (n > 0) {
    // A pre-wired namespace: it goes back to the pool with its address, held under its pool key
    // again, for the pool's thread to scrub and hand out once more (or destroy). A new daemon
    // removes whatever is left under pool/, so a crash in between leaks nothing.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoUnexpected("unlink " + path);
    std::string mounted(target, static_cast<size_t>(n));
    const std::string key = kPoolKeyPrefix + mounted.substr(mounted.rfind('/') + 1);
    std::optional<Ipv4> ip = ipam_->Lookup(id);
    if (pool_ && ip && ipam_->Rename(id, key)) {
      pool_->Retire(WiredNetns{key, std::move(mounted), *ip});
      return {};
    }
    ASB_RETURN_IF_ERROR(sys::RemovePersistentNetns(mounted));
  } else {
    ASB_RETURN_IF_ERROR(sys::RemovePersistentNetns(path));
  }
  return ipam_->Release(id);
}

Status PodNetwork::ReleaseAllExcept(const std::set<std::string>& live) {
  std::set<std::string> ours;
  for (const auto& [id, ip] : ipam_->All()) {
    if (id.rfind(kPoolKeyPrefix, 0) != 0) ours.insert(id);  // the pool's are not sandboxes'
  }
  const std::string dir = options_.state_dir + "/net/ns";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ours.insert(name);
    }
    ::closedir(d);
  }
  for (const std::string& id : ours) {
    if (live.count(id)) continue;
    ASB_LOG(INFO, "pod network: releasing a leftover", "id", id);
    if (!runtime::ValidateSandboxId(id)) {
      ASB_LOG(WARN, "pod network: unexpected entry", "path", dir + "/" + id);
      continue;
    }
    ASB_RETURN_IF_ERROR(Detach(id));
  }
  return {};
}

Status PodNetwork::SetPolicy(const std::string& key, const std::optional<NetworkPolicy>& p) {
  Status st = firewall_.SetPolicy(key, p);
  if (dns_names_) dns_names_->SetNames(firewall_.DnsNames());
  return st;
}

void PodNetwork::Shutdown() {
  blocked_log_.reset();
  dns_names_.reset();
  if (pool_) {
    pool_->Stop();
    ASB_LOG(INFO, "pod network: pre-wired namespaces", "made", pool_->made(), "reused",
            pool_->recycled());
  }
  if (!ipam_->All().empty()) return;
  firewall_.Disable();
  auto nl = Netlink::Open();
  if (!nl) return;
  if (Status st = nl->DeleteLink(options_.bridge); !st) {
    ASB_LOG(WARN, "pod network: bridge not removed", "bridge", options_.bridge, "error",
            st.error().message);
  }
  if (Status st = RunNft(options_.nft_path, {"delete", "table", "ip", options_.nft_table}); !st) {
    ASB_LOG(WARN, "pod network: firewall table not removed", "error", st.error().message);
  }
  const std::string orig = options_.state_dir + "/net/ip_forward.orig";
  if (auto was = ReadFile(orig)) {
    if (Status st = WriteSysctl("net/ipv4/ip_forward", *was); !st) {
      ASB_LOG(WARN, "pod network: ip_forward not restored", "error", st.error().message);
    } else {
      ::unlink(orig.c_str());
    }
  }
}

}  // namespace asb::net
