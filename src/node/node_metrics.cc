#include "node/node_metrics.h"

#include "metrics/metrics.h"

namespace asb::node {

namespace {

metrics::Family<metrics::Histogram>& Family(const char* name, const char* help) {
  return metrics::Registry::Default().AddHistogram(name, help, {"runtime"},
                                                   metrics::LatencyBucketsSeconds());
}

// Runtime names come from the node's fixed runtime table; anything else is one label value.
std::string_view RuntimeLabel(std::string_view runtime) {
  return runtime == "native" || runtime == "gvisor" ? runtime : "other";
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

void RecordSandboxStart(std::string_view runtime, std::chrono::steady_clock::duration took) {
  static auto& f = Family("asb_node_sandbox_start_duration_seconds",
                          "Time the node's runtime took to start a pod's sandbox, by runtime.");
  f.With({RuntimeLabel(runtime)}).Observe(Seconds(took));
}

void RecordSandboxStop(std::string_view runtime, std::chrono::steady_clock::duration took) {
  static auto& f = Family("asb_node_sandbox_stop_duration_seconds",
                          "Time the node took to stop a deleted pod's sandbox, by runtime.");
  f.With({RuntimeLabel(runtime)}).Observe(Seconds(took));
}

}  // namespace asb::node
