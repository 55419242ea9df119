// Process-wide metrics in the Prometheus text exposition format (version 0.0.4).
//
// Counters, gauges and histograms with fixed bucket bounds, grouped in label families that a
// Registry renders for GET /metrics. Recording is lock-free: a child metric is a few relaxed
// atomics, so Counter::Inc and Histogram::Observe cost tens of nanoseconds (bench/metrics_bench
// measures them) and may sit on the warm-claim and exec hot paths. Looking up a child by label
// values takes a short mutex; code whose labels are fixed resolves its child once and keeps the
// reference (children are never removed, so references stay valid for the process).
//
// Label values must come from small, fixed sets (verb, code, runtime class, template name):
// each family holds at most kMaxChildren children, and further label sets are counted in one
// child whose every label is "_overflow", so a bug can't grow memory without bound.
//
// Gauges that describe stored state (sandboxes by condition, warm pool sizes) are computed at
// scrape time by a collector callback rather than kept up to date by every writer, as upstream's
// SandboxCollector does.
//
// Thread-safe throughout.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asb::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative counts are computed at render time; each bucket keeps only its own count.
class Histogram {
 public:
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // `bounds`: strictly increasing upper bounds, without +Inf; must outlive the histogram.
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);
  Snapshot Snap() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
};

// Milliseconds since `start` as a double, for histograms in _ms.
double MsSince(std::chrono::steady_clock::time_point start);

inline constexpr size_t kMaxChildren = 1000;

// One metric name with its label names; a child per distinct tuple of label values.
// Lookup is lock-free for a child that exists (an open-addressed table of atomic pointers,
// filled under a mutex and never shrunk), so With() on the hot path costs a hash and a compare.
template <class M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});
  ~Family();
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The child for these label values (one per label name, in order). Never fails: a wrong
  // number of values or a full family yields the "_overflow" child.
  M& With(std::initializer_list<std::string_view> values);
  M& With(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(label_values, child) for each child, sorted by label values.
  void ForEach(const std::function<void(const std::vector<std::string>&, const M&)>& fn) const;

 private:
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<M> metric;
  };
  static constexpr size_t kSlots = 2048;  // a power of two above 2 * kMaxChildren: short probes
  template <class Values>
  M& Find(const Values& values);
  template <class Values>
  M* Probe(const Values& values, size_t hash) const;
  M& Insert(std::vector<std::string> values, size_t hash);

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only; children refer to it
  std::unique_ptr<std::atomic<Child*>[]> slots_;
  mutable std::mutex mu_;                      // inserts and ForEach
  std::vector<std::unique_ptr<Child>> owned_;  // guarded by mu_
};

// What a scrape-time collector reports: gauge samples of one family.
struct GaugeSample {
  std::vector<std::string> label_values;
  double value = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process's registry, what /metrics serves.
  static Registry& Default();

  // Adding a name that exists returns the existing family when its kind and labels match (so
  // two instances of a component share one family); a mismatch aborts (a programming error).
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names);
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names);
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);

  using CollectFn = std::function<std::vector<GaugeSample>()>;
  // A gauge family computed by `fn` at every scrape. Until the returned handle is destroyed
  // (which waits for a scrape in progress; `fn` must not destroy handles or render). Several
  // live collectors of one name are rendered as one family (their samples joined).
  class CollectorHandle {
   public:
    CollectorHandle() = default;
    CollectorHandle(Registry* r, uint64_t id) : registry_(r), id_(id) {}
    CollectorHandle(CollectorHandle&& o) noexcept
        : registry_(std::exchange(o.registry_, nullptr)), id_(o.id_) {}
    CollectorHandle& operator=(CollectorHandle&& o) noexcept;
    ~CollectorHandle() { Reset(); }
    void Reset();

   private:
    Registry* registry_ = nullptr;
    uint64_t id_ = 0;
  };
  [[nodiscard]] CollectorHandle AddCollector(const std::string& name, const std::string& help,
                                             std::vector<std::string> label_names, CollectFn fn);

  // The whole registry in text format 0.0.4, families sorted by name.
  std::string Render() const;

 private:
  struct Entry;
  struct Collector {
    std::string name, help;
    std::vector<std::string> label_names;
    CollectFn fn;
  };
  Entry& Add(const std::string& name, int kind, const std::string& help,
             const std::vector<std::string>& label_names);

  // Held for a whole Render and by CollectorHandle::Reset, so a collector's owner can't go away
  // while its callback runs. Taken before mu_.
  mutable std::mutex render_mu_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> families_;
  std::map<uint64_t, Collector> collectors_;
  uint64_t next_collector_ = 1;
};

// The Content-Type of Render()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Latency buckets in milliseconds, 0.1 ms to 4 min: asb's warm paths take 1-5 ms and its cold
// paths seconds, so upstream's buckets (from 100 ms) would put every warm claim in the first one.
const std::vector<double>& LatencyBucketsMs();
// The same bounds in seconds, for metrics named _seconds (Prometheus's base unit).
const std::vector<double>& LatencyBucketsSeconds();

// An HTTP status as a label value ("200"), from a fixed table: "other" outside 100-599.
std::string_view StatusCodeLabel(int status);

}  // namespace asb::metrics
