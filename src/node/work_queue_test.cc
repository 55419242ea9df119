#include "node/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/testing/test_util.h"

namespace asb::node {
namespace {

using std::chrono::milliseconds;

using asb::testing::WaitFor;

TEST(WorkQueueTest, OneWorkerPerKeyAndReRunWhenAddedDuringProcessing) {
  WorkQueue q;
  std::mutex mu;
  std::map<std::string, int> runs;
  std::atomic<int> concurrent{0};
  std::atomic<int> max_concurrent{0};
  std::atomic<bool> release{false};
  q.Start(4, [&](const std::string& key) {
    int c = ++concurrent;
    max_concurrent = std::max(max_concurrent.load(), c);
    while (key == "a" && !release) std::this_thread::sleep_for(milliseconds(1));
    --concurrent;
    std::lock_guard l(mu);
    ++runs[key];
  });
  q.Add("a");
  ASSERT_TRUE(WaitFor([&] { return concurrent.load() == 1; }));
  q.Add("a");  // while running: once more afterwards, not in parallel
  q.Add("a");
  q.Add("b");
  release = true;
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard l(mu);
    return runs["a"] == 2 && runs["b"] == 1;
  }));
  q.Stop();
  std::lock_guard l(mu);
  EXPECT_EQ(runs["a"], 2);
}

TEST(WorkQueueTest, AddAfterKeepsTheEarliestDeadline) {
  WorkQueue q;
  std::mutex mu;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> order;
  q.Start(2, [&](const std::string& key) {
    std::lock_guard l(mu);
    order.emplace_back(key, std::chrono::steady_clock::now());
  });
  auto t0 = std::chrono::steady_clock::now();
  q.AddAfter("late", milliseconds(60));
  q.AddAfter("early", milliseconds(20));
  q.AddAfter("early", milliseconds(500));  // later than pending: ignored
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard l(mu);
    return order.size() == 2;
  }));
  std::lock_guard l(mu);
  EXPECT_EQ(order[0].first, "early");
  EXPECT_EQ(order[1].first, "late");
  EXPECT_GE(order[0].second - t0, milliseconds(20));
  EXPECT_LT(order[0].second - t0, milliseconds(400));
  EXPECT_GE(order[1].second - t0, milliseconds(60));
  EXPECT_EQ(q.PendingForTest(), 0u);
  q.Stop();
}

}  // namespace
}  // namespace asb::node
