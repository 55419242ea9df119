// The router's only view of the world: "give me a connected byte stream to port P of sandbox S".
//
// The router never looks up Sandbox resources itself (upstream's sandbox-router is a pure data
// plane too). In the embedded daemon the node implements this by dialing the sandbox's pod IP
// (net/networked_runtime.h), or, with podNetwork "none", by opening a socket inside the
// sandbox's network namespace (as CRI port-forward does).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace asb::router {

// What Connect spent looking the sandbox up, for the router's Server-Timing header; the rest
// of the call counts as the dial.
struct ConnectTiming {
  std::chrono::steady_clock::duration resolve{};
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Returns a connected, blocking stream socket to `port` inside sandbox `ns/sandbox_id`.
  // The router owns the fd and sends exactly one HTTP exchange (or one upgraded stream) per
  // connection it did not get back with keep-alive. Called concurrently from many threads.
  // Errors decide the answer the caller sees:
  //   kNotFound                           -> 404 {"detail": "Sandbox '<ns>/<id>' not found."}
  //   kUnavailable, kFailedPrecondition   -> 503 {"detail": "Sandbox '<id>' is not ready..."}
  //   anything else (dial failure)        -> 502 {"detail": "Could not connect to the backend
  //                                                sandbox: <id>"}
  [[nodiscard]] virtual Result<UniqueFd> Connect(const std::string& ns,
                                                 const std::string& sandbox_id, uint16_t port) = 0;
  // Connect that also reports its lookup time in `timing` (may be nullptr). The default counts
  // the whole call as the dial.
  [[nodiscard]] virtual Result<UniqueFd> ConnectTimed(const std::string& ns,
                                                      const std::string& sandbox_id, uint16_t port,
                                                      ConnectTiming* timing) {
    (void)timing;
    return Connect(ns, sandbox_id, port);
  }
};

}  // namespace asb::router
