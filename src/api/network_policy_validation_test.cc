// A template's networkPolicy is refused at the API with the field the node's parser names.
#include "api/network_policy_validation.h"

#include <gtest/gtest.h>

#include "api/resource.h"
#include "api/validation.h"

namespace asb::api {
namespace {

Json Template(const std::string& policy) {
  Json t = ParseJson(R"({"metadata":{"name":"t","namespace":"default"},"spec":{"podTemplate":
      {"spec":{"containers":[{"name":"a","image":"i"}]}}}})")
               .value();
  t["spec"]["networkPolicy"] = ParseJson(policy).value();
  return t;
}

FieldErrors Check(const std::string& policy) {
  return ValidateObject(SandboxTemplateResource(), Template(policy));
}

TEST(NetworkPolicyValidation, APolicyTheNodeCanEnforceIsAccepted) {
  EXPECT_TRUE(Check(R"({"egress":[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":
      ["10.0.0.0/8"]}}],"ports":[{"protocol":"TCP","port":443}]}],"ingress":[{"from":
      [{"podSelector":{"matchLabels":{"app":"sandbox-router"}}}]}]})")
                  .empty());
  EXPECT_TRUE(Check(R"({"ingress":[],"egress":[]})").empty());  // deny all, both ways
}

TEST(NetworkPolicyValidation, TheErrorNamesTheFieldAndTheValue) {
  FieldErrors errs = Check(R"({"egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8"}},
      {"ipBlock":{"cidr":"300.1.2.3/8"}}]}]})");
  ASSERT_EQ(errs.size(), 1u) << AggregateMessage(errs);
  EXPECT_EQ(errs[0].field, "spec.networkPolicy.egress[0].to[1].ipBlock.cidr");
  EXPECT_EQ(errs[0].Reason(), "FieldValueInvalid");
  EXPECT_EQ(errs[0].value, "300.1.2.3/8");
}

TEST(NetworkPolicyValidation, AMissingCidrIsRequiredAndAListWhereAnObjectBelongsIsInvalid) {
  FieldErrors errs = Check(R"({"egress":[{"to":[{"ipBlock":{}}]}]})");
  ASSERT_EQ(errs.size(), 1u) << AggregateMessage(errs);
  EXPECT_EQ(errs[0].field, "spec.networkPolicy.egress[0].to[0].ipBlock.cidr");
  EXPECT_EQ(errs[0].Reason(), "FieldValueRequired");

  errs = Check(R"({"ingress":{"from":[]}})");
  ASSERT_FALSE(errs.empty());
  bool named = false;
  for (const FieldError& e : errs) named |= e.field == "spec.networkPolicy.ingress";
  EXPECT_TRUE(named) << AggregateMessage(errs);
}

TEST(NetworkPolicyValidation, AnEgressDnsNameIsAcceptedAndABadOneNamed) {
  EXPECT_TRUE(
      Check(R"({"egress":[{"to":[{"dnsName":"pypi.org"}],"ports":[{"port":443}]}]})").empty());
  FieldErrors errs = Check(R"({"egress":[{"to":[{"dnsName":"*.pypi.org"}]}]})");
  ASSERT_EQ(errs.size(), 1u) << AggregateMessage(errs);
  EXPECT_EQ(errs[0].field, "spec.networkPolicy.egress[0].to[0].dnsName");
  EXPECT_EQ(errs[0].value, "*.pypi.org");
}

}  // namespace
}  // namespace asb::api
