#include "base/strings.h"

#include <gtest/gtest.h>

namespace asb {
namespace {

TEST(StringsTest, SplitKeepsEmptyFields) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string>{""}));
}

TEST(StringsTest, ParseIntRejectsJunk) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_FALSE(ParseInt("4x"));
  EXPECT_FALSE(ParseInt(""));
  EXPECT_FALSE(ParseInt("99999999999999999999"));
}

TEST(StringsTest, ParseBoolLikeGo) {
  for (const char* t : {"1", "t", "T", "true", "True", "TRUE"}) EXPECT_EQ(ParseBool(t), true) << t;
  for (const char* f : {"0", "f", "F", "false", "False", "FALSE"})
    EXPECT_EQ(ParseBool(f), false) << f;
  EXPECT_FALSE(ParseBool("yes"));
}

TEST(StringsTest, UrlDecode) {
  EXPECT_EQ(UrlDecode("metadata.name%3Dfoo"), "metadata.name=foo");
  EXPECT_EQ(UrlDecode("a+b", true), "a b");
  EXPECT_EQ(UrlDecode("a+b", false), "a+b");
  EXPECT_FALSE(UrlDecode("%4"));
  EXPECT_FALSE(UrlDecode("%zz"));
  EXPECT_EQ(UrlDecode(UrlEncode("dir/a b&c.txt")), "dir/a b&c.txt");
}

TEST(StringsTest, RandomHexHasLengthAndVaries) {
  auto a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace asb
