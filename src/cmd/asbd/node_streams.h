// The node's stream port (`asbd node --listen`), what the API server dials for kubectl exec,
// attach and port-forward into a pod that runs on another process (node_role.h has the
// protocol). A dial that fails answers before the upgrade: 404 (no such pod on this node), 503
// (not running), 502 (the port refused), 401 (bad token).
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>

#include "base/result.h"
#include "http/server.h"
#include "node/node_agent.h"

namespace asb::asbd {

inline constexpr char kNodeDialPrefix[] = "/asb/v1/dial/";
inline constexpr char kNodeDialUpgrade[] = "asb-tcp";

class NodeStreams {
 public:
  // Listens on host:port (0: a free port). `token` guards everything but /healthz.
  [[nodiscard]] static Result<std::unique_ptr<NodeStreams>> Start(const std::string& host,
                                                                  uint16_t port, std::string token);
  ~NodeStreams();

  // The node whose pods are dialed; nullptr (before it runs, at shutdown): 503. Attach waits
  // for the dials in flight.
  void Attach(node::NodeAgent* node);
  uint16_t port() const { return server_->port(); }
  void Stop() { server_->Stop(); }

 private:
  NodeStreams() = default;
  http::Response Handle(http::Request& req);

  std::string token_;
  std::shared_mutex mu_;
  node::NodeAgent* node_ = nullptr;  // guarded by mu_
  std::unique_ptr<http::Server> server_;
};

}  // namespace asb::asbd
