// The node's stream port (`asbd node --listen`), what the API server dials for kubectl exec,
// attach and port-forward into a pod that runs on another process (node_role.h has the
// protocol). A dial that fails answers before the upgrade: 404 (no such pod on this node), 503
// (not running), 502 (the port refused), 401 (bad token).
//
// It also serves what a kubelet serves beside its streams (node_proxy.h forwards to these):
//   GET /containerLogs/NS/POD/CONTAINER?follow&tailLines&sinceSeconds&sinceTime&timestamps
//       &previous&limitBytes     the pod's output as pods/log gives it; 404 Status when this
//       node runs no such pod
//   /asb/v1/images...            this node's image cache (image_api.h)
#pragma once

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>

#include "apiserver/pod_streams.h"
#include "base/result.h"
#include "cmd/asbd/image_api.h"
#include "http/server.h"
#include "node/node_agent.h"

namespace asb::asbd {

inline constexpr char kNodeDialPrefix[] = "/asb/v1/dial/";
inline constexpr char kNodeDialUpgrade[] = "asb-tcp";
inline constexpr char kNodeLogsPrefix[] = "/containerLogs/";

// The request's "Authorization: Bearer" token is `token` (compared in constant time).
bool BearerTokenMatches(const http::Request& req, const std::string& token);

class NodeStreams {
 public:
  // Listens on host:port (0: a free port). `token` guards everything but /healthz.
  [[nodiscard]] static Result<std::unique_ptr<NodeStreams>> Start(const std::string& host,
                                                                  uint16_t port, std::string token);
  ~NodeStreams();

  // The node whose pods are dialed, where their output is and its image API; nullptr (before
  // it runs, at shutdown): 503. Attach waits for the dials in flight.
  void Attach(node::NodeAgent* node, apiserver::PodStreams* logs, ImageApi* images);
  uint16_t port() const { return server_->port(); }
  void Stop() {
    stopping_ = true;  // ends `logs -f` streams
    server_->Stop();
  }

 private:
  NodeStreams() = default;
  http::Response Handle(http::Request& req);
  http::Response ContainerLogs(http::Request& req);

  std::string token_;
  std::shared_mutex mu_;
  node::NodeAgent* node_ = nullptr;        // guarded by mu_
  apiserver::PodStreams* logs_ = nullptr;  // guarded by mu_
  ImageApi* images_ = nullptr;             // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::unique_ptr<http::Server> server_;
};

}  // namespace asb::asbd
