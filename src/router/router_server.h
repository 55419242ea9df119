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
// Threading: one thread per client connection (like http::Server): the relay is plain blocking
// code and an idle connection costs no CPU. Errors the router produces itself are JSON
// {"detail": "..."} bodies, the shape upstream's router and SDKs use.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/result.h"
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
  std::chrono::milliseconds proxy_timeout = std::chrono::seconds(180);
  size_t max_header_bytes = 64 * 1024;  // larger request headers get 431
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);  // keep-alive idle limit
  size_t max_connections = 4096;  // further connections are closed at once
  bool access_log = true;         // one INFO line per request
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

  uint16_t port() const { return port_; }
  const std::string& host() const { return options_.host; }
  // "http://host:port".
  std::string url() const;
  // Stops accepting, shuts down every client and upstream connection (ending relays) and joins
  // all threads. Idempotent.
  void Stop();

 private:
  RouterServer(RouterOptions options, Backend& backend)
      : options_(std::move(options)), backend_(backend) {}
  void AcceptLoop();
  void ServeConnection(uint64_t id, int fd);
  // Registers the upstream fd of connection `id` so Stop() can shut it down (-1 to clear).
  void SetUpstreamFd(uint64_t id, int fd);
  friend class ConnectionSession;

  RouterOptions options_;
  Backend& backend_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  struct Fds {
    int client = -1;
    int upstream = -1;
  };
  std::map<uint64_t, Fds> open_;  // guarded by mu_
  uint64_t next_id_ = 1;          // guarded by mu_
  size_t active_threads_ = 0;     // guarded by mu_
  std::condition_variable threads_done_;
};

}  // namespace asb::router
