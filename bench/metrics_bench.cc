// Cost of recording a metric on a hot path (the warm claim is ~2 ms and an exec round trip
// ~1 ms, so recording must stay far below a microsecond). Prints ns per operation, one thread
// and two threads hammering the same child (worst case: one contended cache line).
//
//   build/bin/metrics_bench
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "metrics/metrics.h"

namespace {

using asb::metrics::Registry;

template <class Fn>
double NsPerOp(int threads, int iters, Fn fn) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < iters; ++i) fn(i);
    });
  for (auto& t : ts) t.join();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
         iters;
}

}  // namespace

int main() {
  Registry r;
  auto& counters = r.AddCounter("bench_total", "B.", {"verb", "code"});
  auto& hist = r.AddHistogram("bench_ms", "B.", {"code"}, asb::metrics::LatencyBucketsMs());
  auto& c = counters.With({"GET", "200"});
  auto& h = hist.With({"200"});
  constexpr int kIters = 2'000'000;
  std::printf("%-48s %8s %8s\n", "operation", "1 thr", "2 thr");
  auto row = [&](const char* name, auto fn) {
    std::printf("%-48s %6.1fns %6.1fns\n", name, NsPerOp(1, kIters, fn), NsPerOp(2, kIters, fn));
  };
  row("Counter::Inc (resolved child)", [&](int) { c.Inc(); });
  row("Histogram::Observe (resolved child, 20 bounds)",
      [&](int i) { h.Observe(static_cast<double>(i % 3000)); });
  row("Family::With({verb, code}) + Inc", [&](int) { counters.With({"GET", "200"}).Inc(); });
  row("Family::With({code}) + Observe + MsSince", [&](int) {
    auto t = std::chrono::steady_clock::now();
    hist.With({"200"}).Observe(asb::metrics::MsSince(t));
  });
  auto t0 = std::chrono::steady_clock::now();
  std::string text = r.Render();
  std::printf(
      "%-48s %6.1fus (%zu bytes)\n", "Registry::Render (2 families)",
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count(),
      text.size());
}
