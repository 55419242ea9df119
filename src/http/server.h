// HTTP/1.1 server with keep-alive on the shared connection engine (http/server_core.h): idle
// connections wait on the engine's event thread, a bounded worker pool runs the handlers.
//
// Handlers are plain blocking functions (store writes, watches waiting on a queue, exec waiting
// on a child): a request keeps its worker until the response is written, so max_workers bounds
// the requests in flight, not the connections.
//
// Limits a client cannot get around: the whole request header within header_timeout_ms (a
// slow-loris client is dropped), every later read or write progressing within io_timeout_ms, a
// body over max_body_bytes answered with 413 (the rest of the body is read and discarded,
// bounded, so the client sees the answer instead of a reset), idle keep-alive connections closed
// after idle_timeout_ms or sooner when new clients need the room (see server_core.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "http/errors.h"
#include "http/message.h"
#include "http/server_core.h"

namespace asb::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                        // 0 = pick a free port
  size_t max_body_bytes = 3 * 1024 * 1024;  // larger bodies get 413 (Kubernetes' 3 MiB)
  size_t max_header_bytes = 64 * 1024;      // larger request headers get 431
  int idle_timeout_ms = 60000;              // keep-alive connection idle limit
  int header_timeout_ms = 30000;            // the request header must be complete within
  int io_timeout_ms = 60000;                // each body read / response write must progress
  size_t max_connections = 4096;            // idle + busy; see server_core.h for eviction
  size_t max_connections_per_ip = 1024;
  size_t min_workers = 4;    // pre-started handler threads
  size_t max_workers = 256;  // requests served at once
  std::string server_name = "asb";
  // Renders the errors the server answers itself (413, 431, malformed request, a handler that
  // threw, overload): FastAPI's {"detail": ...} unless the protocol says otherwise (the API
  // server passes its Kubernetes Status renderer).
  ErrorRenderer render_error = DetailResponse;
};

class Server {
 public:
  // Binds and starts accepting. kUnavailable if the address can't be bound.
  [[nodiscard]] static Result<std::unique_ptr<Server>> Start(ServerOptions options,
                                                             Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const { return core_->port(); }
  const std::string& host() const { return options_.host; }
  CoreStats stats() const { return core_->stats(); }
  ServerCore& core() { return *core_; }
  // Stops accepting, shuts down open connections (ending watches) and joins all threads.
  void Stop();

 private:
  Server(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}

  ServerOptions options_;
  Handler handler_;
  std::unique_ptr<ServerCore> core_;
};

}  // namespace asb::http
