#include "base/clock.h"

#include <gtest/gtest.h>

namespace asb {
namespace {

TEST(ClockTest, Rfc3339RoundTrip) {
  auto t = ParseRfc3339("2026-05-01T10:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatRfc3339(*t), "2026-05-01T10:00:00Z");
  auto off = ParseRfc3339("2026-05-01T12:00:00.5+02:00");
  ASSERT_TRUE(off);
  EXPECT_EQ(FormatRfc3339Micro(*off), "2026-05-01T10:00:00.500000Z");
  EXPECT_FALSE(ParseRfc3339("yesterday"));
  EXPECT_FALSE(ParseRfc3339("2026-05-01T10:00:00"));
}

}  // namespace
}  // namespace asb
