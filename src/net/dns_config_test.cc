#include "net/dns_config.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace asb::net {
namespace {

Json J(const char* text) { return *ParseJson(text); }

constexpr char kHost[] =
    "# a host's\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver fd00::1\n"
    "search corp.example\noptions edns0 ndots:2\n";

DnsDefaults Defaults(const std::string& host = kHost) {
  DnsDefaults d;
  d.host_resolv_conf = host;
  return d;
}

TEST(DnsConfigTest, ManagedDefaultTemplateWithoutDnsPolicyGetsUpstreamsPublicServers) {
  ASSERT_OK_AND_ASSIGN(
      std::string conf,
      ResolvConfFor(J(R"({"dnsConfig": {"nameservers": ["192.0.2.9"]}})"), true, Defaults()));
  EXPECT_EQ(conf,
            "# written by asbd for this sandbox (dnsPolicy None, upstream's secure default)\n"
            "nameserver 8.8.8.8\nnameserver 1.1.1.1\n");
  DnsDefaults air = Defaults();
  air.nameservers = {"10.0.0.53"};  // podDNSNameservers on an air-gapped host
  ASSERT_OK_AND_ASSIGN(conf, ResolvConfFor(J("{}"), true, air));
  EXPECT_NE(conf.find("nameserver 10.0.0.53\n"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("8.8.8.8"), std::string::npos) << conf;
}

TEST(DnsConfigTest, NoneIsExactlyTheDnsConfig) {
  ASSERT_OK_AND_ASSIGN(std::string conf, ResolvConfFor(J(R"({"dnsPolicy": "None", "dnsConfig": {
      "nameservers": ["198.51.100.53"], "searches": ["a.example", "b.example"],
      "options": [{"name": "ndots", "value": "1"}, {"name": "edns0"}]}})"),
                                                       true, Defaults()));
  EXPECT_EQ(conf,
            "# written by asbd for this sandbox (dnsPolicy None)\n"
            "nameserver 198.51.100.53\nsearch a.example b.example\noptions ndots:1 edns0\n");
}

TEST(DnsConfigTest, DefaultIsTheHostsWithoutLoopbackAndIpv6ThenThePodsMergedIn) {
  ASSERT_OK_AND_ASSIGN(std::string conf, ResolvConfFor(J(R"({"dnsPolicy": "Default", "dnsConfig": {
      "nameservers": ["192.0.2.53", "192.0.2.54"], "searches": ["pod.example"],
      "options": [{"name": "ndots", "value": "5"}]}})"),
                                                       false, Defaults()));
  EXPECT_EQ(conf,
            "# written by asbd for this sandbox (dnsPolicy Default)\n"
            "nameserver 192.0.2.53\nnameserver 192.0.2.54\n"
            "search corp.example pod.example\noptions edns0 ndots:5\n");
  // ClusterFirst (or nothing, outside the secure default): no cluster DNS, so as Default.
  ASSERT_OK_AND_ASSIGN(conf, ResolvConfFor(J("{}"), false, Defaults()));
  EXPECT_NE(conf.find("ClusterFirst (no cluster DNS: as Default)"), std::string::npos) << conf;
  EXPECT_NE(conf.find("nameserver 192.0.2.53\n"), std::string::npos) << conf;
}

TEST(DnsConfigTest, AHostWithOnlySystemdResolvedsStubFallsBackToTheDefaultServers) {
  ASSERT_OK_AND_ASSIGN(std::string conf,
                       ResolvConfFor(J(R"({"dnsPolicy": "Default"})"), false,
                                     Defaults("nameserver 127.0.0.53\noptions edns0 trust-ad\n")));
  EXPECT_EQ(conf,
            "# written by asbd for this sandbox (dnsPolicy Default)\n"
            "nameserver 8.8.8.8\nnameserver 1.1.1.1\noptions edns0 trust-ad\n");
}

TEST(DnsConfigTest, KubeletsLimitsApply) {
  ASSERT_OK_AND_ASSIGN(std::string conf, ResolvConfFor(J(R"({"dnsPolicy": "None", "dnsConfig": {
      "nameservers": ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]}})"),
                                                       false, Defaults()));
  EXPECT_EQ(conf.find("192.0.2.4"), std::string::npos) << conf;
  EXPECT_NE(conf.find("192.0.2.3"), std::string::npos) << conf;
}

TEST(DnsConfigTest, ValuesThatWouldBreakTheFileAreRefusedNamingTheField) {
  struct Case {
    const char* spec;
    const char* want;
  } cases[] = {
      {R"({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["8.8.8.8\nnameserver 10.0.0.1"]}})",
       "spec.dnsConfig.nameservers[0]: "},
      {R"({"dnsPolicy": "None", "dnsConfig": {"searches": ["ok.example", "a b"]}})",
       "spec.dnsConfig.searches[1]: "},
      {R"({"dnsPolicy": "None", "dnsConfig": {"options": [{"value": "1"}]}})",
       "spec.dnsConfig.options[0].name: "},
      {R"({"dnsPolicy": "None", "dnsConfig": {"options": [{"name": "x", "value": "#"}]}})",
       "spec.dnsConfig.options[0].value: "},
      {R"({"dnsPolicy": "Cluster"})", "spec.dnsPolicy: "},
      {R"({"dnsPolicy": "None", "dnsConfig": []})", "spec.dnsConfig: "},
  };
  for (const Case& c : cases) {
    auto r = ResolvConfFor(J(c.spec), false, Defaults());
    ASSERT_FALSE(r) << c.spec;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind(c.want, 0), 0u) << r.error().message;
  }
}

}  // namespace
}  // namespace asb::net
