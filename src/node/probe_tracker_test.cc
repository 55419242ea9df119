#include "node/probe_tracker.h"

#include <gtest/gtest.h>

namespace asb::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Change = ProbeTracker::Change;

ProbeSpec Spec(milliseconds period, int success_threshold = 1, int failure_threshold = 3) {
  ProbeSpec s;
  s.period = period;
  s.success_threshold = success_threshold;
  s.failure_threshold = failure_threshold;
  return s;
}

// Until the first success the probe interval doubles from first_interval up to periodSeconds;
// nothing is due before its time.
TEST(ProbeTrackerTest, FirstProbesDoubleUpToThePeriod) {
  FakeClock clock;
  ProbeTracker t(milliseconds(2));
  t.Start(Spec(milliseconds(50)), clock.Now() + seconds(3), false);  // initialDelaySeconds 3
  EXPECT_FALSE(t.Due(clock.Now()));
  clock.Advance(seconds(3) - milliseconds(1));
  EXPECT_FALSE(t.Due(clock.Now()));
  clock.Advance(milliseconds(1));
  EXPECT_TRUE(t.Due(clock.Now()));
  const int want[] = {2, 4, 8, 16, 32, 50, 50, 50};
  for (int w : want) {
    ASSERT_TRUE(t.Due(clock.Now()));
    EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);
    EXPECT_EQ(t.next_at(), clock.Now() + milliseconds(w)) << w;
    clock.Advance(milliseconds(w - 1));
    EXPECT_FALSE(t.Due(clock.Now())) << w;
    clock.Advance(milliseconds(1));
  }
  EXPECT_FALSE(t.ready());
}

// After the first success the probe runs every periodSeconds, however long it failed before.
TEST(ProbeTrackerTest, ReadyContainersAreProbedEveryPeriod) {
  FakeClock clock;
  ProbeTracker t(milliseconds(2));
  t.Start(Spec(seconds(10)), clock.Now(), false);
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);
  clock.Advance(milliseconds(2));
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kBecameReady);
  EXPECT_EQ(t.next_at(), clock.Now() + seconds(10));
  clock.Advance(seconds(10));
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);
  EXPECT_EQ(t.next_at(), clock.Now() + seconds(10));  // not back to the fast interval
}

TEST(ProbeTrackerTest, SuccessThresholdConsecutiveSuccessesMakeItReady) {
  FakeClock clock;
  ProbeTracker t;
  t.Start(Spec(seconds(1), /*success_threshold=*/3), clock.Now(), false);
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);  // breaks the run
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);
  EXPECT_FALSE(t.ready());
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kBecameReady);
  EXPECT_TRUE(t.ready());
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);  // stays ready, no second change
}

TEST(ProbeTrackerTest, FailureThresholdConsecutiveFailuresMakeItUnready) {
  FakeClock clock;
  ProbeTracker t;
  t.Start(Spec(seconds(1), 1, /*failure_threshold=*/3), clock.Now(), false);
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kBecameReady);
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);  // resets the failures
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);
  EXPECT_TRUE(t.ready());
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kBecameUnready);
  EXPECT_FALSE(t.ready());
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kNone);  // already unready
}

// A re-adopted sandbox keeps its stored readiness and is probed at once at the period's cadence.
TEST(ProbeTrackerTest, ReadoptedReadyContainerKeepsReadinessUntilThreshold) {
  FakeClock clock;
  ProbeTracker t(milliseconds(2));
  t.Start(Spec(seconds(5), 1, 1), clock.Now(), /*ready=*/true);
  EXPECT_TRUE(t.ready());
  EXPECT_TRUE(t.Due(clock.Now()));
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);
  EXPECT_EQ(t.next_at(), clock.Now() + seconds(5));
  EXPECT_EQ(t.OnResult(false, clock.Now()), Change::kBecameUnready);
}

// A restart starts the state machine over: unready, counts cleared, fast interval again.
TEST(ProbeTrackerTest, StartResetsEverything) {
  FakeClock clock;
  ProbeTracker t(milliseconds(2));
  t.Start(Spec(seconds(5), 2, 2), clock.Now(), false);
  (void)t.OnResult(true, clock.Now());
  (void)t.OnResult(true, clock.Now());
  ASSERT_TRUE(t.ready());
  (void)t.OnResult(false, clock.Now());
  t.Start(Spec(seconds(5), 2, 2), clock.Now(), false);
  EXPECT_FALSE(t.ready());
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kNone);  // the earlier success doesn't count
  EXPECT_EQ(t.next_at(), clock.Now() + milliseconds(2));
  EXPECT_EQ(t.OnResult(true, clock.Now()), Change::kBecameReady);
}

}  // namespace
}  // namespace asb::node
