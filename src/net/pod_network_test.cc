// Needs root (a bridge, veths, network namespaces on the host): label privileged. Uses its own
// bridge name and a CIDR of its own, and checks that it leaves none of them behind.
#include "net/pod_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "base/file_util.h"
#include "net/netlink.h"
#include "sys/net.h"
#include "tests/testing/test_util.h"

namespace asb::net {
namespace {

constexpr char kBridge[] = "asbtest0";
constexpr char kTable[] = "asbtest";

bool TableExists() { return std::system("nft list table ip asbtest > /dev/null 2>&1") == 0; }

bool LinkExists(const std::string& name) {
  auto nl = Netlink::Open();
  return nl && nl->LinkIndex(name).has_value();
}

// Listens on 0.0.0.0:port inside the namespace at `path` (on a thread of its own).
UniqueFd ListenInNetns(const std::string& path, uint16_t port) {
  UniqueFd out;
  std::thread t([&] {
    UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return;
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return;
    if (::listen(s.get(), 4) != 0) return;
    out = std::move(s);
  });
  t.join();
  return out;
}

class PodNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::IsRoot()) GTEST_SKIP() << "SKIPPED LOUDLY: pod networking needs root";
    options_.state_dir = dir_.path();
    options_.cidr = *ParseCidr("10.251.0.0/24");
    options_.bridge = kBridge;
    options_.nft_table = kTable;
    ip_forward_ = ReadFile("/proc/sys/net/ipv4/ip_forward").value_or("");
  }
  void TearDown() override {
    if (!testing::IsRoot()) return;
    // Whatever a failed test left: the bridge goes with the last address.
    if (auto nl = Netlink::Open()) (void)nl->DeleteLink(kBridge);
    (void)std::system("nft delete table ip asbtest > /dev/null 2>&1");
    EXPECT_EQ(ReadFile("/proc/sys/net/ipv4/ip_forward").value_or("?"), ip_forward_)
        << "the pod network did not put ip_forward back";
    if (!ip_forward_.empty()) {
      UniqueFd f(::open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC));
      ASSERT_EQ(::write(f.get(), ip_forward_.data(), ip_forward_.size()),
                static_cast<ssize_t>(ip_forward_.size()));
    }
  }
  // The addresses the IPAM file holds for pre-wired namespaces.
  std::map<std::string, Ipv4> ReadPoolAddresses() {
    std::map<std::string, Ipv4> out;
    auto ipam = Ipam::Open(dir_.Sub("net/ipam.json"), options_.cidr);
    if (!ipam) return out;
    for (const auto& [key, ip] : (*ipam)->All())
      if (key.rfind("pool:", 0) == 0) out[key] = ip;
    return out;
  }
  testing::TempDir dir_;
  PodNetworkOptions options_;
  std::string ip_forward_;  // before the test
};

TEST_F(PodNetworkTest, AttachWiresAnAddressReachableFromTheHostAndDetachRemovesAll) {
  ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
  ASSERT_TRUE(LinkExists(kBridge));
  EXPECT_TRUE(TableExists());
  ASSERT_OK_AND_ASSIGN(PodAttachment a, net->Attach("sb-1"));
  EXPECT_EQ(ToString(a.ip), "10.251.0.2");
  EXPECT_EQ(a.netns_path, dir_.Sub("net/ns/sb-1"));
  EXPECT_TRUE(LinkExists(PodNetwork::VethName(a.ip)));
  auto again = net->Attach("sb-1");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kAlreadyExists);

  uint16_t port = 18000;
  UniqueFd listener = ListenInNetns(a.netns_path, port);
  ASSERT_TRUE(listener);
  ASSERT_OK_AND_ASSIGN(UniqueFd conn, sys::ConnectTcp(a.ip.value, port, std::chrono::seconds(2)));

  listener.Reset();
  conn.Reset();
  ASSERT_OK(net->Detach("sb-1"));
  ASSERT_OK(net->Detach("sb-1"));  // idempotent
  // The kernel destroys the namespace, and the veth pair with it, once nothing holds it.
  EXPECT_TRUE(testing::WaitFor([&] { return !LinkExists(PodNetwork::VethName(a.ip)); },
                               std::chrono::seconds(10)));
  EXPECT_FALSE(PathExists(a.netns_path));
  EXPECT_FALSE(net->PodIP("sb-1"));
  net->Shutdown();
  EXPECT_FALSE(LinkExists(kBridge));
  EXPECT_FALSE(TableExists());
}

// Sandboxes cache the gateway's MAC: if the bridge's changed as ports come and go (a bridge
// without an address of its own takes its ports' lowest), their replies would go to a MAC
// nobody answers to until the cache expires (the router saw seconds-long connect stalls).
TEST_F(PodNetworkTest, TheBridgeKeepsItsAddressWhilePortsComeAndGo) {
  const std::string sys = std::string("/sys/class/net/") + kBridge;
  ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
  EXPECT_EQ(ReadFile(sys + "/addr_assign_type").value_or("?"), "3\n");  // NET_ADDR_SET
  const std::string mac = ReadFile(sys + "/address").value_or("?");
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK(net->Attach("sb-" + std::to_string(i)));
    EXPECT_EQ(ReadFile(sys + "/address").value_or("?"), mac) << "after attaching sb-" << i;
  }
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK(net->Detach("sb-" + std::to_string(i)));
    EXPECT_EQ(ReadFile(sys + "/address").value_or("?"), mac) << "after detaching sb-" << i;
  }
  net->Shutdown();
}

TEST_F(PodNetworkTest, SandboxesOnTheBridgeCannotReachEachOther) {
  ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
  ASSERT_OK_AND_ASSIGN(PodAttachment a, net->Attach("sb-a"));
  ASSERT_OK_AND_ASSIGN(PodAttachment b, net->Attach("sb-b"));
  uint16_t port = 18001;
  UniqueFd listener = ListenInNetns(b.netns_path, port);
  ASSERT_TRUE(listener);
  // From the host: reachable.
  ASSERT_OK(sys::ConnectTcp(b.ip.value, port, std::chrono::seconds(2)));
  // From a's namespace: the bridge does not forward between isolated ports.
  Status from_a;
  std::thread t([&] {
    UniqueFd ns(::open(a.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_EQ(::setns(ns.get(), CLONE_NEWNET), 0);
    auto r = sys::ConnectTcp(b.ip.value, port, std::chrono::milliseconds(500));
    from_a = r ? Status{} : Status{tl::unexpected(r.error())};
  });
  t.join();
  EXPECT_FALSE(from_a);
  ASSERT_OK(net->Detach("sb-a"));
  ASSERT_OK(net->Detach("sb-b"));
  net->Shutdown();
}

TEST_F(PodNetworkTest, AddressesSurviveARestartAndLeftoversAreReleased) {
  Ipv4 kept;
  {
    ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
    ASSERT_OK_AND_ASSIGN(PodAttachment a, net->Attach("keep"));
    ASSERT_OK_AND_ASSIGN(PodAttachment b, net->Attach("gone"));
    kept = a.ip;
    net->Shutdown();  // addresses in use: the bridge stays
    EXPECT_TRUE(LinkExists(kBridge));
  }
  ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
  EXPECT_EQ(net->PodIP("keep"), kept);
  ASSERT_OK(net->ReleaseAllExcept({"keep"}));
  EXPECT_FALSE(net->PodIP("gone"));
  EXPECT_FALSE(PathExists(dir_.Sub("net/ns/gone")));
  EXPECT_TRUE(PathExists(dir_.Sub("net/ns/keep")));
  ASSERT_OK(net->Detach("keep"));
  net->Shutdown();
  EXPECT_FALSE(LinkExists(kBridge));
}

// Pre-wired namespaces: handed to a sandbox already wired (reachable at once), refilled behind
// it, and none of them left (files, addresses, veths) once the network shuts down or a new
// daemon finds a dead one's.
TEST_F(PodNetworkTest, PreWiredNamespacesAreHandedOutRefilledAndNeverLeftBehind) {
  options_.netns_pool = 2;
  std::vector<Ipv4> pool_ips;
  {
    ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
    ASSERT_TRUE(testing::WaitFor([&] { return net->pool_ready() == 2; }, std::chrono::seconds(10)));
    ASSERT_OK_AND_ASSIGN(PodAttachment a, net->Attach("sb-1"));
    EXPECT_EQ(a.netns_path, dir_.Sub("net/ns/sb-1"));
    EXPECT_EQ(net->PodIP("sb-1"), a.ip);
    EXPECT_TRUE(LinkExists(PodNetwork::VethName(a.ip)));
    UniqueFd listener = ListenInNetns(a.netns_path, 18001);
    ASSERT_TRUE(listener);
    ASSERT_OK(sys::ConnectTcp(a.ip.value, 18001, std::chrono::seconds(2)));
    listener.Reset();
    ASSERT_TRUE(testing::WaitFor([&] { return net->pool_ready() == 2; }, std::chrono::seconds(10)));
    // A restart keeps a running sandbox's pre-wired namespace (only the pool's own go).
    net.reset();
    ASSERT_OK_AND_ASSIGN(net, PodNetwork::Create(options_));
    EXPECT_EQ(net->PodIP("sb-1"), a.ip);
    listener = ListenInNetns(a.netns_path, 18002);
    ASSERT_TRUE(listener) << "the namespace went with the restart";
    ASSERT_OK(sys::ConnectTcp(a.ip.value, 18002, std::chrono::seconds(2)));
    listener.Reset();
    ASSERT_OK(net->Detach("sb-1"));
    EXPECT_FALSE(PathExists(a.netns_path));
    EXPECT_FALSE(net->PodIP("sb-1"));
    // Back in the pool, veth and address and all, for the next sandbox.
    EXPECT_TRUE(
        testing::WaitFor([&] { return net->pool_recycled() == 1; }, std::chrono::seconds(10)));
    EXPECT_TRUE(LinkExists(PodNetwork::VethName(a.ip)));
    net->Shutdown();
    EXPECT_TRUE(ReadPoolAddresses().empty());
    EXPECT_FALSE(LinkExists(kBridge));
    EXPECT_TRUE(testing::WaitFor([&] { return !LinkExists(PodNetwork::VethName(a.ip)); },
                                 std::chrono::seconds(10)));
  }
  // A daemon that dies with its pool full (no destructor runs): the next one destroys those.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto net = PodNetwork::Create(options_);
    bool full = net && testing::WaitFor([&] { return (*net)->pool_ready() == 2; },
                                        std::chrono::seconds(10));
    ::_exit(full ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  for (const auto& [key, ip] : ReadPoolAddresses()) pool_ips.push_back(ip);
  ASSERT_EQ(pool_ips.size(), 2u);
  options_.netns_pool = 0;
  ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
  EXPECT_TRUE(ReadPoolAddresses().empty());
  for (Ipv4 ip : pool_ips) {
    EXPECT_TRUE(testing::WaitFor([&] { return !LinkExists(PodNetwork::VethName(ip)); },
                                 std::chrono::seconds(10)))
        << PodNetwork::VethName(ip);
  }
  net->Shutdown();
  EXPECT_FALSE(LinkExists(kBridge));
}

// Runs fn on a thread inside the namespace at `path`.
template <class F>
void InNetns(const std::string& path, F fn) {
  std::thread t([&] {
    UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(ns);
    ASSERT_EQ(::setns(ns.get(), CLONE_NEWNET), 0);
    fn();
  });
  t.join();
}

// "used" and "tw" of the namespace's sockstat.
std::pair<long, long> SocketCounts(const std::string& path) {
  std::pair<long, long> out{-1, -1};
  InNetns(path, [&] {
    std::string text = ReadFile("/proc/thread-self/net/sockstat").value_or("");
    std::sscanf(text.c_str(), "sockets: used %ld", &out.first);
    auto tcp = text.find("TCP:");
    auto tw = text.find(" tw ", tcp);
    if (tcp != std::string::npos && tw != std::string::npos) {
      out.second = std::strtol(text.c_str() + tw + 4, nullptr, 10);
    }
  });
  return out;
}

// A stopped sandbox's namespace is handed out again only once nothing of its traffic is left in
// it: its TIME_WAIT and orphaned connections (which would hold its port against the next
// sandbox's bind and show its peers) are gone.
TEST_F(PodNetworkTest, AReusedNamespaceKeepsNoConnectionOfTheSandboxBefore) {
  options_.netns_pool = 1;
  ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
  ASSERT_TRUE(testing::WaitFor([&] { return net->pool_ready() == 1; }, std::chrono::seconds(10)));
  ASSERT_OK_AND_ASSIGN(PodAttachment a, net->Attach("sb-1"));
  const uint16_t port = 18003;
  UniqueFd listener = ListenInNetns(a.netns_path, port);
  ASSERT_TRUE(listener);
  // Two connections the sandbox closes first: one the host closed too (TIME_WAIT), one it keeps
  // open (FIN_WAIT2, orphaned once the sandbox's socket is gone).
  ASSERT_OK_AND_ASSIGN(UniqueFd c1, sys::ConnectTcp(a.ip.value, port, std::chrono::seconds(2)));
  ASSERT_OK_AND_ASSIGN(UniqueFd c2, sys::ConnectTcp(a.ip.value, port, std::chrono::seconds(2)));
  for (int i = 0; i < 2; ++i) {
    UniqueFd s(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(s);
  }  // closed: the sandbox's side sends FIN first
  char byte;
  ASSERT_EQ(::read(c1.get(), &byte, 1), 0);
  c1.Reset();
  listener.Reset();
  ASSERT_TRUE(testing::WaitFor([&] { return SocketCounts(a.netns_path).second > 0; },
                               std::chrono::seconds(5)))
      << "no TIME_WAIT made to scrub";

  ASSERT_OK(net->Detach("sb-1"));
  ASSERT_TRUE(
      testing::WaitFor([&] { return net->pool_recycled() == 1; }, std::chrono::seconds(10)));
  // The pool had refilled behind sb-1: the fresh entry comes first, then sb-1's.
  ASSERT_OK(net->Attach("sb-2"));
  ASSERT_OK_AND_ASSIGN(PodAttachment b, net->Attach("sb-3"));
  EXPECT_EQ(b.ip, a.ip);
  // (The scrub's own netlink socket leaves the count an RCU grace period after it closed.)
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return SocketCounts(b.netns_path) == std::pair<long, long>{0, 0};
      },
      std::chrono::seconds(2)))
      << SocketCounts(b.netns_path).first << " sockets, " << SocketCounts(b.netns_path).second
      << " in TIME_WAIT";
  // The port binds without SO_REUSEADDR, and the sandbox reaches and is reached as before.
  listener = ListenInNetns(b.netns_path, port);
  ASSERT_TRUE(listener) << "port " << port << " still held by the sandbox before";
  ASSERT_OK(sys::ConnectTcp(b.ip.value, port, std::chrono::seconds(2)));
  c2.Reset();
  listener.Reset();
  ASSERT_OK(net->Detach("sb-2"));
  ASSERT_OK(net->Detach("sb-3"));
  net->Shutdown();
  EXPECT_TRUE(ReadPoolAddresses().empty());
  EXPECT_FALSE(LinkExists(kBridge));
}

// A namespace something still holds a socket in (a process of the sandbox that outlived it) is
// destroyed, never handed to another sandbox.
TEST_F(PodNetworkTest, ANamespaceStillInUseIsNotReused) {
  options_.netns_pool = 1;
  ASSERT_OK_AND_ASSIGN(auto net, PodNetwork::Create(options_));
  ASSERT_TRUE(testing::WaitFor([&] { return net->pool_ready() == 1; }, std::chrono::seconds(10)));
  ASSERT_OK_AND_ASSIGN(PodAttachment a, net->Attach("sb-1"));
  UniqueFd held;
  InNetns(a.netns_path, [&] { held.Reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  ASSERT_TRUE(held);
  ASSERT_OK(net->Detach("sb-1"));
  auto pool_has = [&](Ipv4 ip) {
    for (const auto& [key, held_ip] : ReadPoolAddresses())
      if (held_ip == ip) return true;
    return false;
  };
  // Its address is released (the namespace destroyed) rather than kept for reuse.
  EXPECT_TRUE(testing::WaitFor([&] { return !pool_has(a.ip); }, std::chrono::seconds(10)));
  EXPECT_EQ(net->pool_recycled(), 0u);
  held.Reset();
  EXPECT_TRUE(testing::WaitFor([&] { return !LinkExists(PodNetwork::VethName(a.ip)); },
                               std::chrono::seconds(10)));
  net->Shutdown();
  EXPECT_FALSE(LinkExists(kBridge));
}

TEST_F(PodNetworkTest, RefusesACidrOverlappingAHostRoute) {
  ASSERT_OK_AND_ASSIGN(Netlink nl, Netlink::Open());
  ASSERT_OK_AND_ASSIGN(std::vector<RouteInfo> routes, nl.ListRoutes());
  const RouteInfo* host = nullptr;
  for (const RouteInfo& r : routes)
    if (r.dst.prefix > 0) host = &r;
  ASSERT_NE(host, nullptr) << "this host has no non-default route to collide with";
  options_.cidr = host->dst;
  if (options_.cidr.prefix > 30) options_.cidr = Cidr{Ipv4{host->dst.base.value & ~3u}, 30};
  auto r = PodNetwork::Create(options_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("podCIDR"), std::string::npos);
  EXPECT_FALSE(LinkExists(kBridge));
}

}  // namespace
}  // namespace asb::net
