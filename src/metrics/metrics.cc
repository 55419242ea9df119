#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/log.h"

namespace asb::metrics {

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // Buckets are few (about 20): a branch-predictable linear scan beats a binary search here.
  size_t i = 0;
  const size_t n = bounds_.size();
  while (i < n && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

namespace {

// FNV-1a over the values with a separator byte, so ("ab","c") and ("a","bc") differ.
template <class Values>
size_t HashValues(const Values& values) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& v : values) {
    for (char c : v) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

template <class Values>
bool SameValues(const std::vector<std::string>& have, const Values& want) {
  if (have.size() != want.size()) return false;
  auto it = want.begin();
  for (const std::string& h : have)
    if (h != std::string_view(*it++)) return false;
  return true;
}

}  // namespace

template <class M>
Family<M>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)),
      slots_(new std::atomic<Child*>[kSlots]) {
  for (size_t i = 0; i < kSlots; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
}

template <class M>
Family<M>::~Family() = default;

template <class M>
template <class Values>
M* Family<M>::Probe(const Values& values, size_t hash) const {
  for (size_t i = 0; i < kSlots; ++i) {
    Child* c = slots_[(hash + i) & (kSlots - 1)].load(std::memory_order_acquire);
    if (!c) return nullptr;
    if (SameValues(c->values, values)) return c->metric.get();
  }
  return nullptr;
}

template <class M>
M& Family<M>::Insert(std::vector<std::string> values, size_t hash) {
  std::lock_guard<std::mutex> lock(mu_);
  if (M* m = Probe(values, hash)) return *m;  // another thread inserted it meanwhile
  if (owned_.size() >= kMaxChildren) {
    std::vector<std::string> overflow(label_names_.size(), "_overflow");
    if (values != overflow) {
      size_t oh = HashValues(overflow);
      if (M* m = Probe(overflow, oh)) return *m;
      ASB_LOG(WARN, "metric family full; further label sets are counted as _overflow", "metric",
              name_, "max_children", kMaxChildren);
      values = std::move(overflow);
      hash = oh;
    }
  }
  auto child = std::make_unique<Child>();
  child->values = std::move(values);
  if constexpr (std::is_same_v<M, Histogram>)
    child->metric = std::make_unique<M>(bounds_);
  else
    child->metric = std::make_unique<M>();
  Child* raw = child.get();
  owned_.push_back(std::move(child));
  // kMaxChildren + 1 children fit in kSlots, so a free slot always exists.
  for (size_t i = 0;; ++i) {
    auto& slot = slots_[(hash + i) & (kSlots - 1)];
    if (slot.load(std::memory_order_relaxed) == nullptr) {
      slot.store(raw, std::memory_order_release);
      break;
    }
  }
  return *raw->metric;
}

template <class M>
template <class Values>
M& Family<M>::Find(const Values& values) {
  if (values.size() != label_names_.size())
    return Insert(std::vector<std::string>(label_names_.size(), "_overflow"),
                  HashValues(std::vector<std::string>(label_names_.size(), "_overflow")));
  size_t hash = HashValues(values);
  if (M* m = Probe(values, hash)) return *m;
  return Insert(std::vector<std::string>(values.begin(), values.end()), hash);
}

template <class M>
M& Family<M>::With(std::initializer_list<std::string_view> values) {
  return Find(values);
}

template <class M>
M& Family<M>::With(const std::vector<std::string>& values) {
  return Find(values);
}

template <class M>
void Family<M>::ForEach(
    const std::function<void(const std::vector<std::string>&, const M&)>& fn) const {
  std::vector<const Child*> sorted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : owned_) sorted.push_back(c.get());
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const Child* a, const Child* b) { return a->values < b->values; });
  for (const Child* c : sorted) fn(c->values, *c->metric);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {

enum Kind { kCounter, kGauge, kHistogram };
constexpr const char* kKindNames[] = {"counter", "gauge", "histogram"};

// Text format 0.0.4: label values escape backslash, double quote and newline; HELP text
// escapes backslash and newline.
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    out += std::to_string(static_cast<int64_t>(v));
  } else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    out += buf;
  }
}

// `{a="x",b="y"}` or "" without labels. `extra` adds one more (a histogram's le).
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i], true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help, int kind) {
  out += "# HELP " + name + " ";
  AppendEscaped(out, help, false);
  out += "\n# TYPE " + name + " " + kKindNames[kind] + "\n";
}

}  // namespace

struct Registry::Entry {
  int kind;
  std::vector<std::string> label_names;
  std::unique_ptr<Family<Counter>> counter;
  std::unique_ptr<Family<Gauge>> gauge;
  std::unique_ptr<Family<Histogram>> histogram;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::Default() {
  static Registry* r = new Registry();  // never destroyed: recorded from threads until exit
  return *r;
}

Registry::Entry& Registry::Add(const std::string& name, int kind, const std::string& help,
                               const std::vector<std::string>& label_names) {
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second->kind != kind || it->second->label_names != label_names) {
      ASB_LOG(ERROR, "metric registered twice with different kinds or labels", "metric", name);
      std::abort();
    }
    return *it->second;
  }
  auto e = std::make_unique<Entry>();
  e->kind = kind;
  e->label_names = label_names;
  (void)help;
  return *families_.emplace(name, std::move(e)).first->second;
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Add(name, kCounter, help, label_names);
  if (!e.counter) e.counter = std::make_unique<Family<Counter>>(name, help, label_names);
  return *e.counter;
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Add(name, kGauge, help, label_names);
  if (!e.gauge) e.gauge = std::make_unique<Family<Gauge>>(name, help, label_names);
  return *e.gauge;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Add(name, kHistogram, help, label_names);
  if (!e.histogram)
    e.histogram = std::make_unique<Family<Histogram>>(name, help, label_names, std::move(bounds));
  return *e.histogram;
}

Registry::CollectorHandle& Registry::CollectorHandle::operator=(CollectorHandle&& o) noexcept {
  if (this != &o) {
    Reset();
    registry_ = std::exchange(o.registry_, nullptr);
    id_ = o.id_;
  }
  return *this;
}

void Registry::CollectorHandle::Reset() {
  if (!registry_) return;
  std::lock_guard<std::mutex> render(registry_->render_mu_);
  std::lock_guard<std::mutex> lock(registry_->mu_);
  registry_->collectors_.erase(id_);
  registry_ = nullptr;
}

Registry::CollectorHandle Registry::AddCollector(const std::string& name, const std::string& help,
                                                 std::vector<std::string> label_names,
                                                 CollectFn fn) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_collector_++;
  collectors_.emplace(id, Collector{name, help, std::move(label_names), std::move(fn)});
  return CollectorHandle(this, id);
}

std::string Registry::Render() const {
  // Collectors run outside mu_ (they take their own locks, the store's) but under render_mu_,
  // which keeps their owners alive until they return.
  std::lock_guard<std::mutex> render(render_mu_);
  std::vector<Collector> collectors;
  std::vector<std::pair<std::string, const Entry*>> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
    for (const auto& [name, e] : families_) families.emplace_back(name, e.get());
  }
  // name -> rendered text; std::map keeps the output sorted by name.
  std::map<std::string, std::string> out;
  for (const auto& [name, e] : families) {
    std::string& s = out[name];
    if (e->counter) {
      AppendHeader(s, name, e->counter->help(), kCounter);
      e->counter->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
        s += name;
        AppendLabels(s, e->label_names, values);
        s += ' ';
        AppendNumber(s, static_cast<double>(c.value()));
        s += '\n';
      });
    } else if (e->gauge) {
      AppendHeader(s, name, e->gauge->help(), kGauge);
      e->gauge->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
        s += name;
        AppendLabels(s, e->label_names, values);
        s += ' ';
        AppendNumber(s, g.value());
        s += '\n';
      });
    } else if (e->histogram) {
      AppendHeader(s, name, e->histogram->help(), kHistogram);
      e->histogram->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
        Histogram::Snapshot snap = h.Snap();
        const std::vector<double>& bounds = h.bounds();
        for (size_t i = 0; i <= bounds.size(); ++i) {
          std::string le;
          if (i < bounds.size())
            AppendNumber(le, bounds[i]);
          else
            le = "+Inf";
          s += name + "_bucket";
          AppendLabels(s, e->label_names, values, "le", le);
          s += ' ';
          AppendNumber(s, static_cast<double>(snap.cumulative[i]));
          s += '\n';
        }
        s += name + "_sum";
        AppendLabels(s, e->label_names, values);
        s += ' ';
        AppendNumber(s, snap.sum);
        s += '\n';
        s += name + "_count";
        AppendLabels(s, e->label_names, values);
        s += ' ';
        AppendNumber(s, static_cast<double>(snap.count));
        s += '\n';
      });
    }
  }
  for (const Collector& c : collectors) {
    std::vector<GaugeSample> samples = c.fn();
    std::string& s = out[c.name];
    if (s.empty()) AppendHeader(s, c.name, c.help, kGauge);
    for (const GaugeSample& g : samples) {
      s += c.name;
      AppendLabels(s, c.label_names, g.label_values);
      s += ' ';
      AppendNumber(s, g.value);
      s += '\n';
    }
  }
  std::string all;
  for (const auto& [name, text] : out) all += text;
  return all;
}

const std::vector<double>& LatencyBucketsMs() {
  static const std::vector<double> kBuckets = {0.1,  0.25,  0.5,   1,     2.5,    5,     10,
                                               25,   50,    100,   250,   500,    1000,  2500,
                                               5000, 10000, 30000, 60000, 120000, 240000};
  return kBuckets;
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> kBuckets = [] {
    std::vector<double> b;
    for (double ms : LatencyBucketsMs()) b.push_back(ms / 1000);
    return b;
  }();
  return kBuckets;
}

std::string_view StatusCodeLabel(int status) {
  static const std::string* kCodes = [] {
    auto* codes = new std::string[600];
    for (int i = 100; i < 600; ++i) codes[i] = std::to_string(i);
    return codes;
  }();
  return status >= 100 && status < 600 ? std::string_view(kCodes[status]) : "other";
}

}  // namespace asb::metrics
