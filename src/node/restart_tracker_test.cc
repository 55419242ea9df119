#include "node/restart_tracker.h"

#include <gtest/gtest.h>

namespace asb::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

BackoffPolicy Kubelet() { return BackoffPolicy{seconds(10), minutes(5), minutes(10)}; }

TEST(RestartBackoffTest, DoublesPerRestartUpToTheCap) {
  EXPECT_EQ(RestartBackoff(0, seconds(10), minutes(5)), seconds(10));
  EXPECT_EQ(RestartBackoff(1, seconds(10), minutes(5)), seconds(20));
  EXPECT_EQ(RestartBackoff(4, seconds(10), minutes(5)), seconds(160));
  EXPECT_EQ(RestartBackoff(5, seconds(10), minutes(5)), minutes(5));
  EXPECT_EQ(RestartBackoff(1000, seconds(10), minutes(5)), minutes(5));  // no overflow
}

TEST(RestartBackoffTest, RestartPolicy) {
  EXPECT_TRUE(ShouldRestart(RestartPolicy::kAlways, 0));
  EXPECT_TRUE(ShouldRestart(RestartPolicy::kAlways, 1));
  EXPECT_TRUE(ShouldRestart(RestartPolicy::kOnFailure, 1));
  EXPECT_FALSE(ShouldRestart(RestartPolicy::kOnFailure, 0));
  EXPECT_FALSE(ShouldRestart(RestartPolicy::kNever, 1));
  EXPECT_FALSE(ShouldRestart(RestartPolicy::kNever, 0));
}

// A crash loop on a fake clock: each crash a second after its start waits twice as long as the
// one before, up to the cap, and a start is allowed exactly when its back-off has passed.
TEST(RestartTrackerTest, CrashLoopDoublesAndCaps) {
  FakeClock clock;
  RestartTracker t(Kubelet());
  EXPECT_TRUE(t.MayStart(clock.Now()));
  EXPECT_FALSE(t.OnStarted(clock.Now()));  // the first start is not a restart
  const milliseconds want[] = {seconds(10),  seconds(20), seconds(40), seconds(80),
                               seconds(160), minutes(5),  minutes(5)};
  for (milliseconds w : want) {
    clock.Advance(seconds(1));
    EXPECT_EQ(t.OnExited(clock.Now()), w);
    EXPECT_EQ(t.next_start_at(), clock.Now() + w);
    clock.Advance(w - milliseconds(1));
    EXPECT_FALSE(t.MayStart(clock.Now())) << w.count();
    clock.Advance(milliseconds(1));
    EXPECT_TRUE(t.MayStart(clock.Now())) << w.count();
    EXPECT_TRUE(t.OnStarted(clock.Now()));
  }
}

// kubelet: a container that ran 10 minutes before it crashed starts its back-off over; one that
// ran a moment less keeps doubling.
TEST(RestartTrackerTest, TenMinutesOfRunningResetsTheBackoff) {
  FakeClock clock;
  RestartTracker t(Kubelet());
  (void)t.OnStarted(clock.Now());
  clock.Advance(seconds(1));
  EXPECT_EQ(t.OnExited(clock.Now()), seconds(10));
  clock.Advance(seconds(10));
  (void)t.OnStarted(clock.Now());
  clock.Advance(minutes(10) - milliseconds(1));
  EXPECT_EQ(t.OnExited(clock.Now()), seconds(20));  // ran 9:59.999: still a crash loop
  clock.Advance(seconds(20));
  (void)t.OnStarted(clock.Now());
  clock.Advance(minutes(10));
  EXPECT_EQ(t.OnExited(clock.Now()), seconds(10));  // ran 10:00: starts over
  clock.Advance(seconds(10));
  (void)t.OnStarted(clock.Now());
  clock.Advance(seconds(1));
  EXPECT_EQ(t.OnExited(clock.Now()), seconds(20));
}

// A re-adopted sandbox's run time counts from the adoption.
TEST(RestartTrackerTest, AdoptionCountsAsAStartForTheReset) {
  FakeClock clock;
  RestartTracker t(Kubelet());
  EXPECT_FALSE(t.has_run());
  t.OnAdopted(clock.Now());
  EXPECT_TRUE(t.has_run());
  clock.Advance(minutes(10));
  EXPECT_EQ(t.OnExited(clock.Now()), seconds(10));
  EXPECT_TRUE(t.OnStarted(clock.Now()));  // after an adoption, the next start is a restart
}

TEST(RestartTrackerTest, FailedStartsShareTheCrashCountAndPullsHaveTheirOwn) {
  FakeClock clock;
  RestartTracker t(Kubelet());
  EXPECT_EQ(t.OnStartFailed(clock.Now()), seconds(10));
  EXPECT_EQ(t.OnStartFailed(clock.Now()), seconds(20));
  EXPECT_EQ(t.OnPullFailed(clock.Now()), seconds(10));  // its own count
  EXPECT_EQ(t.OnPullFailed(clock.Now()), seconds(20));
  EXPECT_EQ(t.next_start_at(), clock.Now() + seconds(20));
  t.OnPullSucceeded();
  EXPECT_EQ(t.OnPullFailed(clock.Now()), seconds(10));   // reset by a successful pull
  EXPECT_EQ(t.OnStartFailed(clock.Now()), seconds(40));  // crashes were not reset
  EXPECT_FALSE(t.has_run());                             // nothing ever ran
  t.MarkHasRun();
  EXPECT_TRUE(t.OnStarted(clock.Now()));
}

}  // namespace
}  // namespace asb::node
