#include "net/ipam.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "base/file_util.h"
#include "tests/testing/test_util.h"

namespace asb::net {
namespace {

Cidr Block(const char* text) { return *ParseCidr(text); }

TEST(IpamTest, AllocatesAfterTheGatewayAndKeepsAnIdsAddress) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/24")));
  EXPECT_EQ(ToString(ipam->gateway()), "10.9.0.1");
  ASSERT_OK_AND_ASSIGN(Ipv4 a, ipam->Allocate("a"));
  ASSERT_OK_AND_ASSIGN(Ipv4 b, ipam->Allocate("b"));
  EXPECT_EQ(ToString(a), "10.9.0.2");
  EXPECT_EQ(ToString(b), "10.9.0.3");
  ASSERT_OK_AND_ASSIGN(Ipv4 again, ipam->Allocate("a"));
  EXPECT_EQ(again, a);
  EXPECT_EQ(ipam->Lookup("b"), b);
  EXPECT_FALSE(ipam->Lookup("c"));
}

TEST(IpamTest, RenameHandsAnAddressToAnotherIdAndPersistsIt) {
  testing::TempDir dir;
  Ipv4 a;
  {
    ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/24")));
    ASSERT_OK_AND_ASSIGN(a, ipam->Allocate("pool:1"));
    ASSERT_OK_AND_ASSIGN(Ipv4 b, ipam->Allocate("b"));
    ASSERT_OK(ipam->Rename("pool:1", "sb"));
    EXPECT_FALSE(ipam->Lookup("pool:1"));
    EXPECT_EQ(ipam->Lookup("sb"), a);
    EXPECT_EQ(ipam->Rename("pool:1", "x").error().code, Code::kNotFound);
    EXPECT_EQ(ipam->Rename("sb", "b").error().code, Code::kAlreadyExists);
    EXPECT_EQ(ipam->Lookup("b"), b);
    ASSERT_OK(ipam->Release("sb"));
    ASSERT_OK_AND_ASSIGN(Ipv4 c, ipam->Allocate("c"));
    EXPECT_NE(c, a);
    ASSERT_OK(ipam->Rename("c", "sb"));
    a = c;
  }
  ASSERT_OK_AND_ASSIGN(auto reopened, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/24")));
  EXPECT_EQ(reopened->Lookup("sb"), a);
  EXPECT_FALSE(reopened->Lookup("c"));
}

TEST(IpamTest, ReleaseFreesAndAReleasedAddressIsNotReusedAtOnce) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/24")));
  ASSERT_OK_AND_ASSIGN(Ipv4 a, ipam->Allocate("a"));
  ASSERT_OK(ipam->Release("a"));
  ASSERT_OK(ipam->Release("a"));  // idempotent
  EXPECT_FALSE(ipam->Lookup("a"));
  ASSERT_OK_AND_ASSIGN(Ipv4 b, ipam->Allocate("b"));
  EXPECT_NE(b, a);
}

TEST(IpamTest, PersistsAcrossReopen) {
  testing::TempDir dir;
  Ipv4 a, b;
  {
    ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/24")));
    ASSERT_OK_AND_ASSIGN(a, ipam->Allocate("a"));
    ASSERT_OK_AND_ASSIGN(b, ipam->Allocate("b"));
    ASSERT_OK(ipam->Release("a"));
  }
  ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/24")));
  EXPECT_EQ(ipam->Lookup("b"), b);
  EXPECT_FALSE(ipam->Lookup("a"));
  // The round-robin position survives too: the next address follows b, not a's old one.
  ASSERT_OK_AND_ASSIGN(Ipv4 c, ipam->Allocate("c"));
  EXPECT_EQ(c.value, b.value + 1);
}

TEST(IpamTest, ExhaustionIsAClearErrorAndWrapsAround) {
  testing::TempDir dir;
  // /29: .0 network, .1 gateway, .7 broadcast: .2 .. .6 for pods.
  ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/29")));
  std::set<uint32_t> seen;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(Ipv4 ip, ipam->Allocate("p" + std::to_string(i)));
    EXPECT_GE(ip.value & 7, 2u);
    EXPECT_LE(ip.value & 7, 6u);
    seen.insert(ip.value);
  }
  EXPECT_EQ(seen.size(), 5u);
  auto full = ipam->Allocate("p5");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Code::kResourceExhausted);
  EXPECT_NE(full.error().message.find("10.9.0.0/29"), std::string::npos);
  ASSERT_OK(ipam->Release("p1"));
  ASSERT_OK_AND_ASSIGN(Ipv4 reused, ipam->Allocate("p5"));  // wraps round to the freed one
  EXPECT_EQ(ToString(reused), "10.9.0.3");
}

TEST(IpamTest, ConcurrentAllocationsNeverShareAnAddress) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/22")));
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::vector<Ipv4>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto ip = ipam->Allocate("t" + std::to_string(t) + "-" + std::to_string(i));
        if (ip) got[t].push_back(*ip);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint32_t> all;
  for (const auto& v : got)
    for (Ipv4 ip : v) all.insert(ip.value);
  EXPECT_EQ(all.size(), size_t{kThreads * kEach});
  ASSERT_OK_AND_ASSIGN(auto reopened, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/22")));
  EXPECT_EQ(reopened->All().size(), size_t{kThreads * kEach});
}

TEST(IpamTest, RefusesATinyBlockAndACorruptFile) {
  testing::TempDir dir;
  auto tiny = Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/31"));
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.error().code, Code::kInvalidArgument);
  for (const char* text :
       {"not json", R"({"allocations": {"a": "10.9.0.300"}})",
        R"({"allocations": {"a": "10.9.0.2", "b": "10.9.0.2"}})", R"({"allocations": []})"}) {
    testing::WriteFileOrDie(dir.Sub("bad.json"), text);
    auto r = Ipam::Open(dir.Sub("bad.json"), Block("10.9.0.0/24"));
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << text;
    EXPECT_NE(r.error().message.find("bad.json"), std::string::npos) << r.error().message;
  }
}

TEST(IpamTest, KeepsEntriesOutsideANewBlockUntilReleased) {
  testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.9.0.0/24")));
    ASSERT_TRUE(ipam->Allocate("old"));
  }
  ASSERT_OK_AND_ASSIGN(auto ipam, Ipam::Open(dir.Sub("ipam.json"), Block("10.8.0.0/24")));
  ASSERT_TRUE(ipam->Lookup("old"));
  EXPECT_EQ(ToString(*ipam->Lookup("old")), "10.9.0.2");
  ASSERT_OK_AND_ASSIGN(Ipv4 fresh, ipam->Allocate("new"));
  EXPECT_EQ(ToString(fresh), "10.8.0.2");
}

}  // namespace
}  // namespace asb::net
