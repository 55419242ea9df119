#include "router/timing.h"

#include <cstdio>

#include "metrics/metrics.h"

namespace asb::router {

namespace {

void AppendMetric(std::string& out, const char* name, std::chrono::steady_clock::duration d,
                  const char* desc = nullptr) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s%s;dur=%.3f", out.empty() ? "" : ", ", name,
                std::chrono::duration<double, std::milli>(d).count());
  out += buf;
  if (desc) out += std::string(";desc=\"") + desc + "\"";
}

}  // namespace

std::string ServerTimingValue(const ProxyTiming& t) {
  std::string out;
  AppendMetric(out, "resolve", t.resolve);
  AppendMetric(out, "dial", t.dial, t.reused ? "reused" : nullptr);
  AppendMetric(out, "upstream", t.upstream);
  return out;
}

void RecordRouterRequest(int status, std::chrono::steady_clock::time_point start) {
  static metrics::Family<metrics::Histogram>& family = metrics::Registry::Default().AddHistogram(
      "asb_router_request_duration_seconds",
      "Router requests from the end of the request header to the end of the response, by "
      "HTTP status code (streamed and upgraded requests: until the stream ended).",
      {"code"}, metrics::LatencyBucketsSeconds());
  family.With({metrics::StatusCodeLabel(status)})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace asb::router
