#include "base/base64.h"

#include <gtest/gtest.h>

#include <vector>

namespace asb {
namespace {

TEST(Base64Test, RoundTripsEveryPaddingLength) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
}

TEST(Base64Test, DecodingIsStrictLikeGoStdEncoding) {
  struct Case {
    const char* in;
    const char* error;
  } cases[] = {
      {"YWJ", "illegal base64 data at input byte 0"},        // short quantum
      {"YW=j", "illegal base64 data at input byte 3"},       // data after padding
      {"=WJj", "illegal base64 data at input byte 0"},       // padding too early
      {"YWJj YWJj", "illegal base64 data at input byte 4"},  // whitespace
      {"YW*j", "illegal base64 data at input byte 2"},       // outside the alphabet
      {"YWI=YWJj", "illegal base64 data at input byte 3"},   // padding before the end
  };
  for (const auto& c : cases) {
    auto got = Base64Decode(c.in);
    ASSERT_FALSE(got) << c.in;
    EXPECT_EQ(got.error().message, c.error) << c.in;
  }
}

}  // namespace
}  // namespace asb
