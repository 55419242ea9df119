// The API server's request metrics, named as kube-apiserver names them so existing dashboards
// read them: apiserver_request_total{verb,resource,subresource,code} and
// apiserver_request_duration_seconds{verb,resource,subresource}. Verbs follow kube-apiserver:
// GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE, CONNECT (exec/attach/portforward).
// Long-running requests (WATCH, CONNECT) are counted but kept out of the latency histogram,
// where their stream's lifetime would drown the request latencies (kube-apiserver does the same).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "http/message.h"

namespace asb::apiserver {

// What one request was, filled in by the router as it parses the URL.
struct RequestInfo {
  std::string_view verb = "";         // "" until classified: the method is used
  std::string_view resource = "";     // plural of a served kind; "" for non-resource URLs
  std::string_view subresource = "";  // "status", "scale", "exec", "log", ...
};

// The kube-apiserver verb for a request on a resource URL (`named`: the URL names one object).
std::string_view KubeVerb(const http::Request& req, bool named, bool watch);

void RecordRequest(const http::Request& req, const RequestInfo& info, int status,
                   std::chrono::steady_clock::time_point start);

// GET /metrics: the process's metrics registry in Prometheus text format.
http::Response MetricsResponse(const http::Request& req);

}  // namespace asb::apiserver
