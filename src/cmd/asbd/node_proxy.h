// How asbd's API server reaches an `asbd node` process, as kube-apiserver reaches a kubelet: a
// Node's InternalIP and status.daemonEndpoints.kubeletEndpoint.Port name the node's stream port
// (node_streams.h), which takes the API token as its bearer token.
//
// NodeProxy forwards one HTTP request there and relays the node's answer unchanged (status,
// headers, body; a chunked `logs -f` stream as it comes). It serves:
//   pods/log of a pod bound to another node   -> GET /containerLogs/NS/POD/CONTAINER?query
//   GET|POST|PUT|DELETE /api/v1/nodes/NAME/proxy/asb/v1/images...   -> /asb/v1/images...
// (Kubernetes' nodes/proxy subresource, limited to asbd's image API: `asbctl image --node`).
// A node that can't be reached answers 503 ServiceUnavailable naming it. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"
#include "http/message.h"
#include "store/store.h"

namespace asb::asbd {

inline constexpr std::string_view kNodesPrefix = "/api/v1/nodes/";
inline constexpr std::string_view kNodeProxyImages = "/proxy/asb/v1/images";

// Where node `node_name`'s stream port is. kNotFound: no such Node; kUnavailable: it reports no
// IPv4 InternalIP and port.
struct NodeEndpoint {
  std::string address;  // dotted IPv4
  uint32_t ip = 0;      // host order
  uint16_t port = 0;
};
[[nodiscard]] Result<NodeEndpoint> ResolveNodeEndpoint(store::Store& store,
                                                       const std::string& node_name);

// The bytes of a request head plus `body` (Content-Length set), sent to a node.
std::string NodeRequestHead(const NodeEndpoint& ep, std::string_view method,
                            std::string_view target, const std::string& token,
                            std::string_view extra_headers, size_t body_size);
bool SendAll(int fd, std::string_view data);
// The node's reply head ("HTTP/1.1 200 OK\r\n...\r\n\r\n"), read a byte at a time so that what
// follows stays in the socket. kUnavailable when the node closes first.
[[nodiscard]] Result<std::string> ReadReplyHead(int fd);
// The status code of a reply head; 0 when it is not one.
int ReplyStatus(std::string_view head);

class NodeProxy {
 public:
  // `store` must outlive this; `token` is sent as the bearer token.
  NodeProxy(store::Store& store, std::string token) : store_(store), token_(std::move(token)) {}

  // Sends req's method, body and Content-Type to `target` (path and query) on node
  // `node_name`; the response relays the node's answer.
  http::Response Forward(const std::string& node_name, const http::Request& req,
                         const std::string& target);

  // /api/v1/nodes/NAME/proxy/asb/v1/images...: the node's image API (the caller checked the
  // bearer token). `path` must start with kNodesPrefix.
  http::Response ForwardImages(const http::Request& req);
  // The node a kNodesPrefix request names when it is an image-API proxy request, else "".
  static std::string ImageProxyNode(std::string_view path);

 private:
  store::Store& store_;
  const std::string token_;
};

}  // namespace asb::asbd
