#include "base/k8s_names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asb {
namespace {

struct Case {
  std::string in;
  std::string want;  // "" = valid, else a substring of the message
};

// Each case through Check* (the message) and Is* (the verdict), which must agree.
void RunTable(std::string (*check)(std::string_view), bool (*is)(std::string_view),
              const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    std::string got = check(c.in);
    EXPECT_EQ(is(c.in), c.want.empty()) << "'" << c.in << "'";
    EXPECT_EQ(got.empty(), c.want.empty()) << "'" << c.in << "' -> " << got;
    if (!c.want.empty()) {
      EXPECT_NE(got.find(c.want), std::string::npos) << "'" << c.in << "' -> " << got;
    }
  }
}

TEST(K8sNamesTest, Dns1123Label) {
  RunTable(CheckDns1123Label, IsDns1123Label,
           {
               {"a", ""},
               {"sandbox-claim-1234abcd", ""},
               {"0abc", ""},
               {std::string(63, 'a'), ""},
               {std::string(64, 'a'), "must be no more than 63 characters"},
               {"", "RFC 1123 label"},
               {"-abc", "RFC 1123 label"},
               {"abc-", "RFC 1123 label"},
               {"ABC", "RFC 1123 label"},
               {"a.b", "must not contain dots"},
               {"a_b", "RFC 1123 label"},
               {"a b", "RFC 1123 label"},
               {"../etc", "RFC 1123 label"},
               {"abc\n", "RFC 1123 label"},
           });
}

TEST(K8sNamesTest, Dns1123Subdomain) {
  RunTable(CheckDns1123Subdomain, IsDns1123Subdomain,
           {
               {"a", ""},
               {"example.com", ""},
               {"a-1.b-2.c", ""},
               {std::string(253, 'a'), ""},
               {std::string(254, 'a'), "must be no more than 253 characters"},
               {"", "RFC 1123 subdomain"},
               {"a..b", "RFC 1123 subdomain"},
               {".a", "RFC 1123 subdomain"},
               {"a.", "RFC 1123 subdomain"},
               {"a.-b", "RFC 1123 subdomain"},
               {"Example.com", "RFC 1123 subdomain"},
               {"a_b", "RFC 1123 subdomain"},
           });
}

TEST(K8sNamesTest, QualifiedName) {
  RunTable(CheckQualifiedName, IsQualifiedName,
           {
               {"app", ""},
               {"My_App.v1", ""},
               {"agents.x-k8s.io/pool", ""},
               {"a/" + std::string(63, 'b'), ""},
               {"", "name part must be non-empty"},
               {"a/", "name part must be non-empty"},
               {"/a", "prefix part must be non-empty"},
               {"a/b/c", "a qualified name must consist of"},
               {"Bad.Prefix/a", "prefix part a lowercase RFC 1123 subdomain"},
               {std::string(64, 'a'), "name part must be no more than 63 characters"},
               {"-bad", "name part must consist of"},
               {"bad-", "name part must consist of"},
               {"a b", "name part must consist of"},
           });
}

TEST(K8sNamesTest, LabelValue) {
  RunTable(CheckLabelValue, IsLabelValue,
           {
               {"", ""},
               {"v1", ""},
               {"My_Value.2", ""},
               {std::string(63, 'x'), ""},
               {std::string(64, 'x'), "must be no more than 63 characters"},
               {"-x", "a valid label must be an empty string"},
               {"x/y", "a valid label must be an empty string"},
               {"x y", "a valid label must be an empty string"},
           });
}

}  // namespace
}  // namespace asb
