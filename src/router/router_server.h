// The router: the single HTTP entry point for traffic to sandboxes (port 8080 by default).
//
//   GET /healthz                      -> 200 {"status":"ok"} (no authentication)
//   anything else                     -> needs "Authorization: Bearer <token>" or Basic with the
//                                        token as password (401 otherwise, auth.h); honours
//                                        X-Sandbox-Timeout;
//                                        is routed by X-Sandbox-ID/-Namespace/-Port (see
//                                        validate.h) and proxied to the sandbox unchanged in
//                                        method, path and query.
//
// Bodies stream both ways in bounded memory (a 50 MiB upload or download never sits in the
// router whole); chunked responses pass through chunk by chunk; an Upgrade request answered with
// 101 becomes a raw byte relay until both sides close (no proxy timeout after 101). Client
// connections are kept alive; the upstream connection is reused for the next request of the same
// client connection when it targets the same sandbox port.
//
// Threading: connections live on http::ServerCore (like http::Server): idle client connections
// cost no thread and are evicted oldest-first when new clients need room; a request in flight
// holds one worker (max_workers) and the relay is plain blocking code. Errors the router
// produces itself are JSON {"detail": "..."} bodies, the shape upstream's router and SDKs use.
//
// Timeouts: the sandbox's response header must arrive within proxy_timeout (310 s by default,
// above asb-agent's default exec limit of 300 s, so a command that runs out its time gets the
// agent's own "timed out" result, never a router 504; see docs/api.md "Exec timeouts").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"
#include "http/server_core.h"
#include "router/backend.h"

namespace asb::router {

struct RouterOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = pick a free port
  // Bearer token every proxied request must carry. Empty disables authentication: only for a
  // router that listens where no untrusted client can reach it.
  std::string token;
  // Longest wait for the sandbox's response header, and for each read of a body while
  // proxying. Does not apply to upgraded (101) connections.
  std::chrono::milliseconds proxy_timeout = std::chrono::seconds(310);
  size_t max_header_bytes = 64 * 1024;  // larger request headers get 431
  // Once a client sent the first byte of a request, the whole header within this.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);  // keep-alive idle limit
  size_t max_connections = 4096;         // idle + busy; idle ones are evicted for new clients
  size_t max_connections_per_ip = 1024;  // per client address, same eviction
  size_t min_workers = 4;                // pre-started
  size_t max_workers = 1024;             // requests (relays) in flight at once
  bool access_log = true;                // one INFO line per request
};

class RouterServer {
 public:
  // Binds and starts accepting. `backend` must outlive the server.
  // Errors: kInvalidArgument (bad host), kUnavailable (address in use).
  [[nodiscard]] static Result<std::unique_ptr<RouterServer>> Start(RouterOptions options,
                                                                   Backend& backend);
  ~RouterServer();
  RouterServer(const RouterServer&) = delete;
  RouterServer& operator=(const RouterServer&) = delete;

  uint16_t port() const;
  const std::string& host() const { return options_.host; }
  // "http://host:port".
  std::string url() const;
  // A client connection served as if it carried the bearer token, for callers that have
  // authenticated the client themselves (asbd: a kubectl port-forward tunnel to the router's
  // mirror pod, opened with the API token). Returns the caller's end of a socketpair.
  // Errors: kUnavailable (stopping, connection cap reached, out of fds or threads).
  [[nodiscard]] Result<UniqueFd> ConnectTrusted();
  // Stops accepting, shuts down every client and upstream connection (ending relays) and joins
  // all threads. Idempotent.
  void Stop();
  http::CoreStats stats() const;

 private:
  RouterServer(RouterOptions options, Backend& backend)
      : options_(std::move(options)), backend_(backend) {}
  friend class ConnectionSession;

  RouterOptions options_;
  Backend& backend_;
  std::unique_ptr<http::ServerCore> core_;
};

}  // namespace asb::router
