#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace asb::metrics {
namespace {

TEST(MetricsTest, CounterFamilyRendersOneLinePerLabelSet) {
  Registry r;
  auto& f = r.AddCounter("test_requests_total", "Requests.", {"verb", "code"});
  f.With({"GET", "200"}).Inc();
  f.With({"GET", "200"}).Inc(2);
  f.With({"POST", "201"}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP test_requests_total Requests.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{verb=\"GET\",code=\"200\"} 3\n"
            "test_requests_total{verb=\"POST\",code=\"201\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.AddHistogram("test_latency_ms", "Latency.", {}, {1, 2.5, 10}).With({});
  for (double v : {0.5, 1.0, 2.0, 7.0, 100.0}) h.Observe(v);
  EXPECT_EQ(r.Render(),
            "# HELP test_latency_ms Latency.\n"
            "# TYPE test_latency_ms histogram\n"
            "test_latency_ms_bucket{le=\"1\"} 2\n"
            "test_latency_ms_bucket{le=\"2.5\"} 3\n"
            "test_latency_ms_bucket{le=\"10\"} 4\n"
            "test_latency_ms_bucket{le=\"+Inf\"} 5\n"
            "test_latency_ms_sum 110.5\n"
            "test_latency_ms_count 5\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.AddGauge("test_g", "a\\b\nc", {"v"}).With({"q\"x\\y\nz"}).Set(1.5);
  EXPECT_EQ(r.Render(),
            "# HELP test_g a\\\\b\\nc\n"
            "# TYPE test_g gauge\n"
            "test_g{v=\"q\\\"x\\\\y\\nz\"} 1.5\n");
}

TEST(MetricsTest, SameNameSharesTheFamily) {
  Registry r;
  auto& a = r.AddCounter("test_c", "C.", {"x"});
  auto& b = r.AddCounter("test_c", "C.", {"x"});
  EXPECT_EQ(&a, &b);
  a.With({"1"}).Inc();
  EXPECT_EQ(b.With({"1"}).value(), 1u);
}

TEST(MetricsTest, WrongArityAndFullFamiliesGoToOverflow) {
  Registry r;
  auto& f = r.AddCounter("test_c", "C.", {"x"});
  f.With({"a", "b"}).Inc();
  EXPECT_EQ(f.With({"_overflow"}).value(), 1u);
  for (size_t i = 0; i < kMaxChildren + 10; ++i) f.With({std::to_string(i)}).Inc();
  size_t children = 0;
  f.ForEach([&](const std::vector<std::string>&, const Counter&) { ++children; });
  EXPECT_EQ(children, kMaxChildren);
  EXPECT_GT(f.With({"_overflow"}).value(), 1u);
}

TEST(MetricsTest, CollectorsRunAtScrapeAndStopWithTheirHandle) {
  Registry r;
  int calls = 0;
  {
    Registry::CollectorHandle h = r.AddCollector("test_state", "State.", {"ready"}, [&] {
      ++calls;
      return std::vector<GaugeSample>{{{"true"}, 2}, {{"false"}, 1}};
    });
    EXPECT_EQ(r.Render(),
              "# HELP test_state State.\n"
              "# TYPE test_state gauge\n"
              "test_state{ready=\"true\"} 2\n"
              "test_state{ready=\"false\"} 1\n");
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(r.Render(), "");
  EXPECT_EQ(calls, 1);
}

TEST(MetricsTest, ConcurrentRecordingLosesNothing) {
  Registry r;
  auto& h = r.AddHistogram("test_h", "H.", {}, LatencyBucketsMs()).With({});
  auto& c = r.AddCounter("test_c", "C.", {"t"});
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Counter& mine = c.With({std::to_string(t % 2)});
      for (int i = 0; i < kPerThread; ++i) {
        h.Observe(1.0);
        mine.Inc();
      }
    });
  for (auto& t : threads) t.join();
  Histogram::Snapshot s = h.Snap();
  EXPECT_EQ(s.count, 4u * kPerThread);
  EXPECT_DOUBLE_EQ(s.sum, 4.0 * kPerThread);
  EXPECT_EQ(c.With({"0"}).value() + c.With({"1"}).value(), 4u * kPerThread);
}

}  // namespace
}  // namespace asb::metrics
