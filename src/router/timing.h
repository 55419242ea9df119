// What the router measures per proxied request: the Server-Timing response header
// (https://www.w3.org/TR/server-timing/) and the router's latency metrics.
//
//   Server-Timing: resolve;dur=0.041, dial;dur=0.198, upstream;dur=1.302
//
// resolve: from the end of the request header to the sandbox looked up (auth, routing headers,
// the backend's lookup); dial: opening the connection into the sandbox (0 with desc="reused"
// when a kept-alive one served); upstream: from sending the request to the sandbox's response
// header, i.e. time to first byte, because the router streams every body after its header.
// Durations are milliseconds, as the header's `dur` is.
#pragma once

#include <chrono>
#include <string>

namespace asb::router {

struct ProxyTiming {
  std::chrono::steady_clock::duration resolve{};
  std::chrono::steady_clock::duration dial{};
  std::chrono::steady_clock::duration upstream{};
  bool reused = false;  // the kept-alive upstream connection served: no resolve, no dial
};

// The Server-Timing header value for `t`.
std::string ServerTimingValue(const ProxyTiming& t);

// Records one finished request (any status the router answered, its own errors included) in
// asb_router_request_duration_seconds{code}. Cheap enough for every request (metrics.h).
void RecordRouterRequest(int status, std::chrono::steady_clock::time_point start);

}  // namespace asb::router
