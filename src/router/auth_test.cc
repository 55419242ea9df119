#include "router/auth.h"

#include <gtest/gtest.h>

namespace asb::router {
namespace {

using std::chrono::milliseconds;

TEST(Credentials, BearerAndBasicWithTheTokenAsPassword) {
  const std::string tok = "s3cret";
  EXPECT_TRUE(CredentialsValid({}, ""));  // auth off
  EXPECT_FALSE(CredentialsValid({}, tok));
  EXPECT_TRUE(CredentialsValid({{"Authorization", "Bearer s3cret"}}, tok));
  EXPECT_TRUE(CredentialsValid({{"authorization", "bearer  s3cret "}}, tok));
  EXPECT_FALSE(CredentialsValid({{"Authorization", "Bearer s3cre"}}, tok));
  // base64("asb:s3cret"), what requests sends from a netrc entry "login asb password s3cret".
  EXPECT_TRUE(CredentialsValid({{"Authorization", "Basic YXNiOnMzY3JldA=="}}, tok));
  EXPECT_TRUE(CredentialsValid({{"Authorization", "basic YXNiOnMzY3JldA"}}, tok));
  // base64(":s3cret"): any user name, even empty.
  EXPECT_TRUE(CredentialsValid({{"Authorization", "Basic OnMzY3JldA=="}}, tok));
  // base64("asb:wrong"), base64("s3cret") (no colon), garbage.
  EXPECT_FALSE(CredentialsValid({{"Authorization", "Basic YXNiOndyb25n"}}, tok));
  EXPECT_FALSE(CredentialsValid({{"Authorization", "Basic czNjcmV0"}}, tok));
  EXPECT_FALSE(CredentialsValid({{"Authorization", "Basic !!!"}}, tok));
  EXPECT_FALSE(CredentialsValid({{"Authorization", "Digest s3cret"}}, tok));
}

TEST(RequestTimeout, SecondsFromTheHeaderCappedElseFallback) {
  const milliseconds fb(180000), max(3600000);
  EXPECT_EQ(RequestTimeout({}, fb, max), fb);
  EXPECT_EQ(RequestTimeout({{"X-Sandbox-Timeout", "123"}}, fb, max), milliseconds(123000));
  EXPECT_EQ(RequestTimeout({{"x-sandbox-timeout", "0.25"}}, fb, max), milliseconds(250));
  EXPECT_EQ(RequestTimeout({{"X-Sandbox-Timeout", "99999"}}, fb, max), max);
  for (const char* bad : {"0", "-1", "abc", "1s", "nan", "inf", ""})
    EXPECT_EQ(RequestTimeout({{"X-Sandbox-Timeout", bad}}, fb, max), fb) << bad;
}

}  // namespace
}  // namespace asb::router
