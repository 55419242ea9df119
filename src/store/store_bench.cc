// Microbenchmarks of SqliteStore's hot paths (in-process, real SQLite in a temp dir).
//   build-x/bin/store_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "api/resource.h"
#include "base/file_util.h"
#include "store/sqlite_store.h"

namespace asb::store {
namespace {

struct BenchStore {
  BenchStore() {
    char tmpl[] = "/tmp/asb-store-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    store = std::move(*SqliteStore::Open(dir, {}));
  }
  ~BenchStore() {
    store.reset();
    (void)RemoveTree(dir);
  }
  std::string dir;
  std::unique_ptr<SqliteStore> store;
};

Json Sandbox(const std::string& name) {
  static const Json kTemplate = *ParseJson(R"({
    "metadata": {"namespace": "default",
                 "labels": {"agents.x-k8s.io/pool": "pool-a", "app": "agent"}},
    "spec": {"podTemplate": {"spec": {"containers": [{
      "name": "runtime", "image": "python-runtime:latest",
      "ports": [{"containerPort": 8888}],
      "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}]}}}})");
  Json obj = kTemplate;
  obj["metadata"]["name"] = name;
  return obj;
}

void BM_Create(benchmark::State& state) {
  BenchStore b;
  int i = 0;
  for (auto _ : state) {
    auto r = b.store->Create(api::SandboxResource(), Sandbox("sb-" + std::to_string(i++)));
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
}
BENCHMARK(BM_Create);

void BM_Get(benchmark::State& state) {
  BenchStore b;
  for (int i = 0; i < 1000; ++i)
    (void)b.store->Create(api::SandboxResource(), Sandbox("sb-" + std::to_string(i)));
  int i = 0;
  for (auto _ : state) {
    auto r = b.store->Get(api::SandboxResource(), "default", "sb-" + std::to_string(i++ % 1000));
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Get);

void BM_UpdateStatus(benchmark::State& state) {
  BenchStore b;
  Json obj = *b.store->Create(api::SandboxResource(), Sandbox("sb"));
  int i = 0;
  for (auto _ : state) {
    obj["status"] = {{"replicas", i++}};
    auto r = b.store->Update(api::SandboxResource(), obj, {.status_only = true});
    if (!r) state.SkipWithError(r.error().message.c_str());
    obj = std::move(*r);
  }
}
BENCHMARK(BM_UpdateStatus);

void BM_CreateWithWatchers(benchmark::State& state) {
  BenchStore b;
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int w = 0; w < state.range(0); ++w)
    watchers.push_back(std::move(*b.store->Watch(api::SandboxResource(), "", {})));
  int i = 0;
  for (auto _ : state) {
    auto r = b.store->Create(api::SandboxResource(), Sandbox("sb-" + std::to_string(i++)));
    if (!r) state.SkipWithError(r.error().message.c_str());
    for (auto& w : watchers) benchmark::DoNotOptimize(w->Next(std::chrono::milliseconds(0)));
  }
}
BENCHMARK(BM_CreateWithWatchers)->Arg(4);

// Create latency distribution (wall clock per call), reported as p50/p99 counters in us.
void BM_CreatePercentiles(benchmark::State& state) {
  BenchStore b;
  std::vector<double> us;
  int i = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto r = b.store->Create(api::SandboxResource(), Sandbox("sb-" + std::to_string(i++)));
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    state.counters["p50_us"] = us[us.size() / 2];
    state.counters["p99_us"] = us[us.size() * 99 / 100];
  }
}
BENCHMARK(BM_CreatePercentiles);

}  // namespace
}  // namespace asb::store

BENCHMARK_MAIN();
