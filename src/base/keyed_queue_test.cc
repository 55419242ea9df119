#include "base/keyed_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/testing/test_util.h"

namespace asb {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::WaitFor;

struct Recorder {
  std::mutex mu;
  std::map<std::string, int> calls;
  int Calls(const std::string& k) {
    std::lock_guard l(mu);
    return calls[k];
  }
  void Note(const std::string& k) {
    std::lock_guard l(mu);
    ++calls[k];
  }
};

TEST(KeyedQueueTest, BackoffDoublesAndCaps) {
  QueueOptions o;
  EXPECT_EQ(KeyedQueue::Backoff(o, 0), milliseconds(100));
  EXPECT_EQ(KeyedQueue::Backoff(o, 1), milliseconds(200));
  EXPECT_EQ(KeyedQueue::Backoff(o, 3), milliseconds(800));
  EXPECT_EQ(KeyedQueue::Backoff(o, 20), milliseconds(30000));
  EXPECT_EQ(KeyedQueue::Backoff(o, 1000), milliseconds(30000));
}

TEST(KeyedQueueTest, DeduplicatesWaitingKeys) {
  FakeClock clock;
  Recorder rec;
  KeyedQueue q(clock, {.workers = 2}, [&](const std::string& k) -> Result<Requeue> {
    rec.Note(k);
    return Requeue::None();
  });
  for (int i = 0; i < 50; ++i) q.Add("ns/a");
  q.Add("ns/b");
  EXPECT_EQ(q.Len(), 2u);
  q.Start();
  ASSERT_TRUE(WaitFor([&] { return q.Processed() == 2; }, seconds(5)));
  EXPECT_EQ(rec.Calls("ns/a"), 1);
  EXPECT_EQ(rec.Calls("ns/b"), 1);
}

TEST(KeyedQueueTest, OneWorkerPerKeyAndReaddWhileProcessingRunsAgain) {
  FakeClock clock;
  std::atomic<int> running{0}, max_running{0}, calls{0};
  std::atomic<bool> release{false};
  KeyedQueue q(clock, {.workers = 4}, [&](const std::string&) -> Result<Requeue> {
    int now = ++running;
    max_running = std::max(max_running.load(), now);
    ++calls;
    while (!release) std::this_thread::yield();
    --running;
    return Requeue::None();
  });
  q.Start();
  q.Add("ns/a");
  ASSERT_TRUE(WaitFor([&] { return calls == 1; }, seconds(5)));
  // Held by a worker: these collapse into one re-run after it finishes.
  q.Add("ns/a");
  q.Add("ns/a");
  EXPECT_EQ(q.Len(), 0u);  // not handed to a second worker
  release = true;
  ASSERT_TRUE(WaitFor([&] { return q.Processed() == 2; }, seconds(5)));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(max_running, 1);
}

TEST(KeyedQueueTest, ErrorsRetryWithBackoffOnTheClock) {
  FakeClock clock;
  std::atomic<int> calls{0};
  KeyedQueue q(clock, {.workers = 1}, [&](const std::string&) -> Result<Requeue> {
    if (++calls <= 2) return MakeError(Code::kUnavailable, "flaky");
    return Requeue::None();
  });
  q.Start();
  q.Add("ns/a");
  ASSERT_TRUE(WaitFor([&] { return q.PendingTimers() == 1; }, seconds(5)));
  EXPECT_EQ(q.Failures("ns/a"), 1);
  EXPECT_EQ(calls, 1);
  clock.Advance(milliseconds(99));
  q.Wake();
  EXPECT_EQ(calls, 1);  // the clock has not reached the 100 ms backoff
  clock.Advance(milliseconds(1));
  q.Wake();
  ASSERT_TRUE(WaitFor([&] { return calls == 2 && q.PendingTimers() == 1; }, seconds(5)));
  EXPECT_EQ(q.Failures("ns/a"), 2);
  clock.Advance(milliseconds(100));  // second backoff is 200 ms
  q.Wake();
  EXPECT_EQ(calls, 2);
  clock.Advance(milliseconds(100));
  q.Wake();
  ASSERT_TRUE(WaitFor([&] { return q.Processed() == 3; }, seconds(5)));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(q.Failures("ns/a"), 0);  // success resets the backoff
  EXPECT_EQ(q.PendingTimers(), 0u);
}

TEST(KeyedQueueTest, RequeueAfterAndEarliestTimerWins) {
  FakeClock clock;
  Recorder rec;
  std::atomic<bool> first{true};
  KeyedQueue q(clock, {.workers = 1}, [&](const std::string& k) -> Result<Requeue> {
    rec.Note(k);
    if (k == "ns/t" && first.exchange(false)) return Requeue::After(seconds(60));
    return Requeue::None();
  });
  q.Start();
  q.Add("ns/t");
  ASSERT_TRUE(WaitFor([&] { return q.PendingTimers() == 1; }, seconds(5)));
  q.AddAfter("ns/x", seconds(10));
  q.AddAfter("ns/x", seconds(1));  // collapses to the earlier deadline
  EXPECT_EQ(q.PendingTimers(), 2u);
  clock.Advance(seconds(1));
  q.Wake();
  ASSERT_TRUE(WaitFor([&] { return rec.Calls("ns/x") == 1; }, seconds(5)));
  clock.Advance(seconds(20));
  q.Wake();
  EXPECT_EQ(rec.Calls("ns/x"), 1);
  EXPECT_EQ(rec.Calls("ns/t"), 1);
  clock.Advance(seconds(40));
  q.Wake();
  ASSERT_TRUE(WaitFor([&] { return rec.Calls("ns/t") == 2; }, seconds(5)));
  EXPECT_EQ(q.PendingTimers(), 0u);
}

TEST(KeyedQueueTest, RealClockTimerFires) {
  Recorder rec;
  KeyedQueue q(RealClock::Get(), {.workers = 1}, [&](const std::string& k) -> Result<Requeue> {
    rec.Note(k);
    return Requeue::None();
  });
  q.Start();
  auto start = std::chrono::steady_clock::now();
  q.AddAfter("ns/a", milliseconds(30));
  ASSERT_TRUE(WaitFor([&] { return rec.Calls("ns/a") == 1; }, seconds(5), milliseconds(1)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(30));
}

TEST(KeyedQueueTest, ManyWorkersProcessKeysInParallel) {
  FakeClock clock;
  std::atomic<int> running{0}, max_running{0};
  std::atomic<int> done{0};
  KeyedQueue q(clock, {.workers = 4}, [&](const std::string&) -> Result<Requeue> {
    int now = ++running;
    max_running = std::max(max_running.load(), now);
    // Hold until a second worker shows up (or give up): proves parallelism without timing.
    WaitFor([&] { return max_running >= 2; }, seconds(2), milliseconds(1));
    --running;
    ++done;
    return Requeue::None();
  });
  for (int i = 0; i < 8; ++i) q.Add("ns/k" + std::to_string(i));
  q.Start();
  ASSERT_TRUE(WaitFor([&] { return done == 8; }, seconds(10)));
  EXPECT_GE(max_running, 2);
}

TEST(KeyedQueueTest, StopWaitsForInFlightAndDropsTheRest) {
  FakeClock clock;
  std::atomic<bool> entered{false}, release{false}, finished{false};
  KeyedQueue q(clock, {.workers = 1}, [&](const std::string& k) -> Result<Requeue> {
    if (k == "ns/slow") {
      entered = true;
      while (!release) std::this_thread::yield();
      finished = true;
    }
    return Requeue::After(seconds(1));
  });
  q.Start();
  q.Add("ns/slow");
  q.Add("ns/other");
  q.AddAfter("ns/later", seconds(5));
  ASSERT_TRUE(WaitFor([&] { return entered.load(); }, seconds(5)));
  std::thread stopper([&] { q.Stop(); });
  std::thread releaser([&] {
    WaitFor([&] { return q.Len() == 0; }, seconds(5));
    release = true;
  });
  stopper.join();
  releaser.join();
  EXPECT_TRUE(finished);  // Stop returned only after the in-flight reconcile ended
  EXPECT_EQ(q.Processed(), 1u);
  EXPECT_EQ(q.PendingTimers(), 0u);
  q.Add("ns/after-stop");
  EXPECT_EQ(q.Len(), 0u);
  q.Stop();  // idempotent
}

}  // namespace
}  // namespace asb
