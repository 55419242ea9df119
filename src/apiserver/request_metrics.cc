#include "apiserver/request_metrics.h"

#include "base/strings.h"
#include "metrics/metrics.h"

namespace asb::apiserver {

namespace {

struct ApiMetrics {
  metrics::Family<metrics::Counter>& total = metrics::Registry::Default().AddCounter(
      "apiserver_request_total",
      "Counter of apiserver requests broken out for each verb, resource, subresource and HTTP "
      "response code.",
      {"verb", "resource", "subresource", "code"});
  metrics::Family<metrics::Histogram>& duration = metrics::Registry::Default().AddHistogram(
      "apiserver_request_duration_seconds",
      "Response latency distribution in seconds for each verb, resource and subresource "
      "(WATCH and CONNECT excluded).",
      {"verb", "resource", "subresource"}, metrics::LatencyBucketsSeconds());
};

ApiMetrics& Metrics() {
  static ApiMetrics* m = new ApiMetrics();
  return *m;
}

// Only methods from a fixed set become label values (a client picks the method).
std::string_view MethodVerb(const std::string& method) {
  for (std::string_view v : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    if (method == v) return v;
  return "other";
}

}  // namespace

std::string_view KubeVerb(const http::Request& req, bool named, bool watch) {
  if (req.method == "GET" || req.method == "HEAD") return watch ? "WATCH" : named ? "GET" : "LIST";
  if (req.method == "PATCH" &&
      ToLower(req.headers.GetOr("Content-Type", "")).rfind("application/apply-patch", 0) == 0)
    return "APPLY";
  return MethodVerb(req.method);
}

void RecordRequest(const http::Request& req, const RequestInfo& info, int status,
                   std::chrono::steady_clock::time_point start) {
  std::string_view verb = info.verb.empty() ? MethodVerb(req.method) : info.verb;
  ApiMetrics& m = Metrics();
  m.total.With({verb, info.resource, info.subresource, metrics::StatusCodeLabel(status)}).Inc();
  if (verb == "WATCH" || verb == "CONNECT") return;
  m.duration.With({verb, info.resource, info.subresource})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

http::Response MetricsResponse(const http::Request& req) {
  Metrics();  // the request families exist (with no samples) before the first request ends
  http::Response resp =
      http::Response::Text(200, req.method == "HEAD" ? "" : metrics::Registry::Default().Render(),
                           std::string(metrics::kContentType));
  return resp;
}

}  // namespace asb::apiserver
