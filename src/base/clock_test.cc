#include "base/clock.h"

#include <gtest/gtest.h>

namespace asb {
namespace {

// Starts at wall time and then follows steady_clock (a stepped wall clock, which a test cannot
// cause without disturbing the machine, does not move it).
TEST(ClockTest, MonotonicClockStartsAtWallTimeAndAdvances) {
  const SystemTime before = std::chrono::system_clock::now();
  MonotonicClock clock;
  SystemTime prev = clock.Now();
  EXPECT_LE(before - std::chrono::seconds(1), prev);
  EXPECT_LE(prev, std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (int i = 0; i < 1000; ++i) {
    SystemTime t = clock.Now();
    EXPECT_GE(t, prev);
    prev = t;
  }
}

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
