// The Kubernetes REST dialect over a Store: what kubectl, client-go and the Python kubernetes
// client expect from an API server, for the kinds in api/resource.h.
//
//   GET  /version, /healthz, /livez, /readyz
//   GET  /api, /api/v1, /apis, /apis/G, /apis/G/V              legacy discovery
//   GET  /openapi/v2 (empty), /openapi/v3, /openapi/v3/{api/v1|apis/G/V}
//   .../[namespaces/NS/]PLURAL          GET list|watch, POST create, DELETE deletecollection
//   .../[namespaces/NS/]PLURAL/NAME     GET, PUT, PATCH (merge|strategic|json), DELETE
//   .../PLURAL/NAME/status              GET, PUT, PATCH  (kinds with a status subresource)
//   .../PLURAL/NAME/scale               GET, PUT, PATCH  (autoscaling/v1 Scale)
//   GET  /metrics                        Prometheus text format (request_metrics.h, metrics/)
//
// Every request except the health probes needs `Authorization: Bearer <token>` when a token is
// configured (401 Status otherwise). Writes are defaulted and validated (api/validation.h) before
// they reach the store; errors are Kubernetes Status objects (apiserver/k8s_status.h).
// Full protocol notes: docs/api.md.
//
// Thread-safe: Handle may be called concurrently; watches block the calling thread while they
// stream (the http::Server gives each connection its own thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "api/resource.h"
#include "apiserver/pod_streams.h"
#include "apiserver/request_metrics.h"
#include "apiserver/versioned_store.h"
#include "base/clock.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "http/message.h"
#include "store/store.h"

namespace asb::apiserver {

struct ApiServerOptions {
  // Bearer token every request must carry; empty disables authentication (tests only).
  std::string token;
  // The node behind pods/exec, pods/attach, pods/log and pods/portforward (not owned; must
  // outlive the server). nullptr: those answer 503.
  PodStreams* pod_streams = nullptr;
  // host:port advertised in /api serverAddressByClientCIDRs.
  std::string advertise_address = "127.0.0.1:6443";
  // Interval of BOOKMARK events on watches that asked for them.
  std::chrono::milliseconds bookmark_interval = std::chrono::seconds(30);
  // Upper bound of a watch without timeoutSeconds (kubectl expects a long-lived stream).
  std::chrono::seconds max_watch_duration = std::chrono::hours(24);
  // How often a streaming watch checks that its client is still there.
  std::chrono::milliseconds watch_poll = std::chrono::milliseconds(500);
  Clock* clock = nullptr;  // nullptr = RealClock; used for Table AGE cells
};

class ApiServer {
 public:
  // `store` must outlive the ApiServer.
  ApiServer(store::Store& store, ApiServerOptions options);
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Serves one request. Never throws; every failure is a Status response.
  http::Response Handle(http::Request& req);
  // An http::Handler bound to this server.
  http::Handler AsHandler() {
    return [this](http::Request& r) { return Handle(r); };
  }

  // Ends all open watch streams soon (each notices within watch_poll). For shutdown.
  void Shutdown() { shutting_down_ = true; }

 private:
  // Serves the request and says in `info` what it was, for the request metrics.
  http::Response Route(http::Request& req, RequestInfo& info);

  VersionedStore versioned_;  // what request handlers use: converts at the version edge
  ApiServerOptions options_;
  Clock& clock_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace asb::apiserver
