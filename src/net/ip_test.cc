#include "net/ip.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace asb::net {
namespace {

TEST(Ipv4Test, ParsesAndPrints) {
  ASSERT_OK_AND_ASSIGN(Ipv4 ip, ParseIpv4("10.244.0.5"));
  EXPECT_EQ(ip.value, (10u << 24) | (244u << 16) | 5u);
  EXPECT_EQ(ToString(ip), "10.244.0.5");
  ASSERT_OK_AND_ASSIGN(Ipv4 top, ParseIpv4("255.255.255.255"));
  EXPECT_EQ(ToString(top), "255.255.255.255");
}

TEST(Ipv4Test, RefusesAmbiguousOrBadText) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "1.2.3.4 ",
                          "a.b.c.d", "1.2.3.-4", "1234.1.1.1"}) {
    auto r = ParseIpv4(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << bad;
  }
}

TEST(CidrTest, ParsesContainsAndOverlaps) {
  ASSERT_OK_AND_ASSIGN(Cidr c, ParseCidr("10.244.0.0/16"));
  EXPECT_EQ(c.prefix, 16);
  EXPECT_EQ(c.Size(), 65536u);
  EXPECT_EQ(ToString(c), "10.244.0.0/16");
  EXPECT_TRUE(c.Contains(*ParseIpv4("10.244.255.255")));
  EXPECT_FALSE(c.Contains(*ParseIpv4("10.245.0.0")));
  ASSERT_OK_AND_ASSIGN(Cidr all, ParseCidr("0.0.0.0/0"));
  EXPECT_EQ(all.Size(), uint64_t{1} << 32);
  EXPECT_TRUE(all.Contains(*ParseIpv4("203.0.113.9")));
  ASSERT_OK_AND_ASSIGN(Cidr host, ParseCidr("192.0.2.7"));
  EXPECT_EQ(host.prefix, 32);
  EXPECT_TRUE(Overlaps(c, *ParseCidr("10.0.0.0/8")));
  EXPECT_TRUE(Overlaps(*ParseCidr("10.244.3.0/24"), c));
  EXPECT_FALSE(Overlaps(c, *ParseCidr("10.245.0.0/16")));
}

TEST(CidrTest, RefusesHostBitsAndBadPrefixes) {
  auto host_bits = ParseCidr("10.244.0.1/16");
  ASSERT_FALSE(host_bits);
  EXPECT_NE(host_bits.error().message.find("10.244.0.0"), std::string::npos);
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "/8"}) {
    EXPECT_FALSE(ParseCidr(bad)) << bad;
  }
}

}  // namespace
}  // namespace asb::net
