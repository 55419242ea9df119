#include "api/quantity.h"

#include <gtest/gtest.h>

namespace asb::api {
namespace {

struct Case {
  const char* text;
  int64_t milli;
  int64_t value;
};

TEST(QuantityTest, ParsesKubernetesQuantities) {
  const Case kCases[] = {
      {"1", 1000, 1},
      {"250m", 250, 1},
      {"0.5", 500, 1},
      {"1.5", 1500, 2},
      {"100m", 100, 1},
      {"0", 0, 0},
      {"2", 2000, 2},
      {"512Mi", 512LL * 1024 * 1024 * 1000, 512LL * 1024 * 1024},
      {"1Gi", 1024LL * 1024 * 1024 * 1000, 1024LL * 1024 * 1024},
      {"1G", 1000000000000LL, 1000000000},
      {"1k", 1000000, 1000},
      {"1Ki", 1024000, 1024},
      {"1M", 1000000000, 1000000},
      {"123456789", 123456789000LL, 123456789},
      {"1e3", 1000000, 1000},
      {"1E3", 1000000, 1000},
      {"1e-3", 1, 1},
      {"1.5Gi", 1610612736000LL, 1610612736},
      {"10u", 1, 1},
      {"500n", 1, 1},
      {"+2", 2000, 2},
      {".5", 500, 1},
      {"1.", 1000, 1},
      {"8Ei", -1, -1},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text);
    auto m = ParseQuantityMilli(c.text);
    auto v = ParseQuantityValue(c.text);
    if (c.milli < 0) {
      EXPECT_FALSE(m.has_value());
    } else {
      ASSERT_TRUE(m.has_value()) << m.error().message;
      EXPECT_EQ(*m, c.milli);
    }
    if (c.value < 0) {
      EXPECT_FALSE(v.has_value());
    } else {
      ASSERT_TRUE(v.has_value()) << v.error().message;
      EXPECT_EQ(*v, c.value);
    }
  }
}

TEST(QuantityTest, RejectsBadInputWithMessage) {
  for (const char* bad : {"", "abc", "-1", "1x", "1 Gi", "1..5", "Mi", "1KiB", "1e", "1e1000",
                          "99999999999999999999999999999999999999999999"}) {
    SCOPED_TRACE(bad);
    auto r = ParseQuantityValue(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find("invalid quantity"), std::string::npos);
  }
}

TEST(QuantityTest, CheckQuantityClassifiesForValidation) {
  EXPECT_EQ(CheckQuantity("250m", true), QuantityProblem::kNone);
  EXPECT_EQ(CheckQuantity("+1Gi", false), QuantityProblem::kNone);
  EXPECT_EQ(CheckQuantity("lots", true), QuantityProblem::kSyntax);
  EXPECT_EQ(CheckQuantity("1.2.3", true), QuantityProblem::kSyntax);
  EXPECT_EQ(CheckQuantity("-+1", true), QuantityProblem::kSyntax);
  EXPECT_EQ(CheckQuantity("", true), QuantityProblem::kSyntax);
  EXPECT_EQ(CheckQuantity("-1", true), QuantityProblem::kNegative);
  EXPECT_EQ(CheckQuantity("-lots", true), QuantityProblem::kSyntax);
  EXPECT_EQ(CheckQuantity("9e18", true), QuantityProblem::kTooLarge);  // fits as a value only
  EXPECT_EQ(CheckQuantity("9e18", false), QuantityProblem::kNone);
  EXPECT_EQ(CheckQuantity(std::string(60, '9'), false), QuantityProblem::kTooLarge);
}

}  // namespace
}  // namespace asb::api
