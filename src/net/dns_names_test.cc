// The dnsName resolver's message handling and TTL logic (dns_names.h), and the resolver against
// a real UDP server on loopback.
#include "net/dns_names.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "base/unique_fd.h"
#include "net/network_policy.h"
#include "tests/testing/test_util.h"

namespace asb::net {
namespace {

using std::chrono::seconds;

std::string U16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
std::string U32(uint32_t v) { return U16(static_cast<uint16_t>(v >> 16)) + U16(v & 0xffff); }

// A response to `query` (its id and question echoed) with `answers` (already encoded).
std::string Response(const std::string& query, int rcode, const std::vector<std::string>& answers) {
  std::string r = query.substr(0, 2) + U16(static_cast<uint16_t>(0x8180 | rcode)) + U16(1) +
                  U16(static_cast<uint16_t>(answers.size())) + U16(0) + U16(0);
  r += query.substr(12);
  for (const std::string& a : answers) r += a;
  return r;
}

std::string A(const char* ip, uint32_t ttl) {
  in_addr a;
  inet_pton(AF_INET, ip, &a);
  // The name as a pointer to the question's (offset 12).
  return std::string("\xc0\x0c", 2) + U16(1) + U16(1) + U32(ttl) + U16(4) +
         std::string(reinterpret_cast<const char*>(&a), 4);
}

std::string Cname(uint32_t ttl) {
  const std::string target = std::string(
      "\x03"
      "cdn\x07"
      "example\x00",
      13);
  return std::string("\xc0\x0c", 2) + U16(5) + U16(1) + U32(ttl) +
         U16(static_cast<uint16_t>(target.size())) + target;
}

TEST(DnsNamesTest, QueryAndAnswerWithCnameAndTheSmallestTtl) {
  ASSERT_OK_AND_ASSIGN(std::string q, BuildDnsQuery("api.example.com", 0x1234));
  EXPECT_EQ(q, std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                           "\x03"
                           "api\x07"
                           "example\x03"
                           "com\x00\x00\x01\x00\x01",
                           33));
  const std::string r = Response(
      q, 0, {Cname(600), A("198.51.100.7", 120), A("198.51.100.3", 90), A("198.51.100.7", 120)});
  ASSERT_OK_AND_ASSIGN(DnsAnswer a, ParseDnsResponse(r, 0x1234));
  ASSERT_EQ(a.addresses.size(), 2u);  // sorted, unique
  EXPECT_EQ(ToString(a.addresses[0]), "198.51.100.3");
  EXPECT_EQ(ToString(a.addresses[1]), "198.51.100.7");
  EXPECT_EQ(a.ttl, seconds(90));
}

TEST(DnsNamesTest, NoSuchNameIsAnAnswerAndAServerFailureIsNot) {
  ASSERT_OK_AND_ASSIGN(std::string q, BuildDnsQuery("gone.example.com", 7));
  EXPECT_EQ(ParseDnsResponse(Response(q, 3, {}), 7).error().code, Code::kNotFound);
  EXPECT_EQ(ParseDnsResponse(Response(q, 0, {Cname(60)}), 7).error().code, Code::kNotFound);
  EXPECT_EQ(ParseDnsResponse(Response(q, 2, {}), 7).error().code, Code::kUnavailable);
  EXPECT_EQ(ParseDnsResponse(Response(q, 5, {}), 7).error().code, Code::kUnavailable);
  // Not the answer: another id, a query, anything truncated.
  EXPECT_EQ(ParseDnsResponse(Response(q, 0, {A("192.0.2.1", 5)}), 8).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(ParseDnsResponse(q, 7).error().code, Code::kInvalidArgument);
  const std::string full = Response(q, 0, {A("192.0.2.1", 5)});
  for (size_t len = 0; len < full.size(); ++len) {
    EXPECT_FALSE(ParseDnsResponse(full.substr(0, len), 7)) << len;
  }
}

TEST(DnsNamesTest, NamesAreCheckedBeforeAnyQuery) {
  EXPECT_EQ(DnsNameProblem("pypi.org"), "");
  EXPECT_EQ(DnsNameProblem("a-b.c0.example"), "");
  EXPECT_NE(DnsNameProblem("*.example.com"), "");
  EXPECT_NE(DnsNameProblem("localhost"), "");
  EXPECT_NE(DnsNameProblem("Upper.example"), "");
  EXPECT_NE(DnsNameProblem("a..example"), "");
  EXPECT_NE(DnsNameProblem("-a.example"), "");
  EXPECT_NE(DnsNameProblem(std::string(64, 'a') + ".example"), "");
  EXPECT_NE(DnsNameProblem("a b.example"), "");
  EXPECT_FALSE(BuildDnsQuery("bad name.example", 1));
}

TEST(DnsNamesTest, TheTtlIsHonouredWithinAFloorAndACeiling) {
  const NameRecord::Time t0 = std::chrono::steady_clock::now();
  NameRecord r;
  EXPECT_TRUE(r.Due(t0));  // new: at once
  DnsAnswer a{{*ParseIpv4("192.0.2.1")}, seconds(60)};
  EXPECT_TRUE(r.Answered(t0, a));
  EXPECT_EQ(r.next(), t0 + seconds(60));
  EXPECT_FALSE(r.Due(t0 + seconds(59)));
  EXPECT_TRUE(r.Due(t0 + seconds(60)));
  EXPECT_FALSE(r.Answered(t0, a));  // the same addresses: no change to apply
  a.ttl = seconds(0);
  r.Answered(t0, a);
  EXPECT_EQ(r.next(), t0 + NameRecord::kMinTtl);  // a 0 TTL would ask without pause
  a.ttl = seconds(86400);
  r.Answered(t0, a);
  EXPECT_EQ(r.next(), t0 + NameRecord::kMaxTtl);  // a day's TTL would miss a move
}

TEST(DnsNamesTest, AFailureKeepsTheLastGoodAddressesAndRetries) {
  const NameRecord::Time t0 = std::chrono::steady_clock::now();
  NameRecord r;
  ASSERT_TRUE(r.Answered(t0, {{*ParseIpv4("192.0.2.1")}, seconds(300)}));
  EXPECT_TRUE(r.Failed(t0 + seconds(300)));   // a streak starts: logged
  EXPECT_FALSE(r.Failed(t0 + seconds(305)));  // and not again
  EXPECT_TRUE(r.failing());
  ASSERT_EQ(r.addresses().size(), 1u);
  EXPECT_EQ(ToString(r.addresses()[0]), "192.0.2.1");
  EXPECT_EQ(r.next(), t0 + seconds(305) + NameRecord::kRetry);
  // The name moved: the next answer says so.
  EXPECT_TRUE(r.Answered(t0 + seconds(310), {{*ParseIpv4("192.0.2.2")}, seconds(30)}));
  EXPECT_FALSE(r.failing());
  EXPECT_TRUE(r.Answered(t0 + seconds(340), {{}, NameRecord::kMinTtl}));  // NXDOMAIN: none
  EXPECT_TRUE(r.addresses().empty());
}

// A UDP server on loopback answering A queries (the e2e tests use dnsmasq).
TEST(DnsNamesTest, ResolveAAsksARealServerAndTheWatcherReportsChanges) {
  UniqueFd srv(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(srv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof(sa);
  ASSERT_EQ(::bind(srv.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(::getsockname(srv.get(), reinterpret_cast<sockaddr*>(&sa), &sl), 0);
  const uint16_t port = ntohs(sa.sin_port);
  timeval tv{0, 100000};
  ::setsockopt(srv.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::atomic<bool> stop{false};
  std::atomic<int> answer_with{1};  // the last octet of 192.0.2.x
  std::thread server([&] {
    while (!stop) {
      char buf[512];
      sockaddr_in from{};
      socklen_t fl = sizeof(from);
      ssize_t n =
          ::recvfrom(srv.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n <= 0) continue;
      const std::string ip = "192.0.2." + std::to_string(answer_with.load());
      std::string r = Response(std::string(buf, static_cast<size_t>(n)), 0, {A(ip.c_str(), 1)});
      ::sendto(srv.get(), r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
    }
  });
  const std::vector<Ipv4> servers = {*ParseIpv4("127.0.0.1")};
  auto a = ResolveA("api.example.com", servers, std::chrono::milliseconds(2000), port);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_EQ(a->addresses.size(), 1u);
  EXPECT_EQ(ToString(a->addresses[0]), "192.0.2.1");
  // Nothing listening: unavailable, quickly (ECONNREFUSED), not an empty answer.
  UniqueFd closed(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));  // a port nobody reads
  sockaddr_in ca{};
  ca.sin_family = AF_INET;
  ca.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t cl = sizeof(ca);
  ASSERT_EQ(::bind(closed.get(), reinterpret_cast<sockaddr*>(&ca), sizeof(ca)), 0);
  ASSERT_EQ(::getsockname(closed.get(), reinterpret_cast<sockaddr*>(&ca), &cl), 0);
  closed.Reset();
  auto none =
      ResolveA("api.example.com", servers, std::chrono::milliseconds(500), ntohs(ca.sin_port));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Code::kUnavailable);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;
  {
    DnsNameWatcher w(
        [&](const std::string& name) {
          return ResolveA(name, servers, std::chrono::milliseconds(2000), port);
        },
        [&](const std::string& name, const std::vector<Ipv4>& addrs) {
          std::lock_guard l(mu);
          seen.push_back(name + "=" + (addrs.empty() ? "" : ToString(addrs[0])));
          cv.notify_all();
        });
    w.SetNames({"api.example.com"});
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, seconds(10), [&] { return seen.size() == 1; }));
    EXPECT_EQ(seen[0], "api.example.com=192.0.2.1");
    EXPECT_EQ(ToString(w.Addresses("api.example.com").at(0)), "192.0.2.1");
    answer_with = 2;  // the record moves; a TTL of 1 s is asked again after the 5 s floor
    ASSERT_TRUE(cv.wait_for(l, seconds(15), [&] { return seen.size() == 2; }));
    EXPECT_EQ(seen[1], "api.example.com=192.0.2.2");
  }
  stop = true;
  server.join();
}

}  // namespace
}  // namespace asb::net
