#include "router/timing.h"

#include <gtest/gtest.h>

namespace asb::router {
namespace {

using std::chrono::microseconds;

TEST(ServerTimingTest, MillisecondsWithThreeDecimalsInHopOrder) {
  ProxyTiming t;
  t.resolve = microseconds(41);
  t.dial = microseconds(1198);
  t.upstream = microseconds(13002);
  EXPECT_EQ(ServerTimingValue(t), "resolve;dur=0.041, dial;dur=1.198, upstream;dur=13.002");
}

TEST(ServerTimingTest, AReusedConnectionSaysSo) {
  ProxyTiming t;
  t.reused = true;
  t.upstream = microseconds(500);
  EXPECT_EQ(ServerTimingValue(t),
            "resolve;dur=0.000, dial;dur=0.000;desc=\"reused\", upstream;dur=0.500");
}

}  // namespace
}  // namespace asb::router
