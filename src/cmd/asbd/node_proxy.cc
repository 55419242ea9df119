#include "cmd/asbd/node_proxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <memory>

#include "api/resource.h"
#include "apiserver/k8s_status.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "net/ip.h"
#include "sys/net.h"

namespace asb::asbd {

namespace {

constexpr std::chrono::milliseconds kConnectTimeout{2000};
// The node answers a log request at once, an image pull when the pull is done.
constexpr int kReplyTimeoutSeconds = 15 * 60;
constexpr size_t kMaxReplyHead = 8192;

// Hop-by-hop headers of the node's answer: this server frames its own connection.
bool HopByHop(std::string_view name) {
  std::string n = ToLower(name);
  return n == "connection" || n == "keep-alive" || n == "server" || n == "date";
}

// The node's answer body to the client, as it comes, until the node closes (it was asked to
// with Connection: close) or the client goes away (`logs -f` ended with ^C).
void RelayToClient(int node, std::string pending, int client) {
  if (!pending.empty() && !SendAll(client, pending)) return;
  char buf[64 * 1024];
  for (;;) {
    pollfd p[2] = {{node, POLLIN, 0}, {client, POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    if (p[1].revents != 0) {  // the client sent more (nothing is expected) or closed
      ssize_t r = ::recv(client, buf, sizeof(buf), MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return;
    }
    if (p[0].revents != 0) {
      ssize_t r = ::recv(node, buf, sizeof(buf), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return;
      if (!SendAll(client, std::string_view(buf, static_cast<size_t>(r)))) return;
    }
  }
}

}  // namespace

Result<NodeEndpoint> ResolveNodeEndpoint(store::Store& store, const std::string& node_name) {
  auto node = store.Get(api::NodeResource(), "", node_name);
  if (!node) return tl::unexpected(node.error().Wrap("node " + node_name));
  NodeEndpoint ep;
  if (const Json* as = Find(*node, "status.addresses"); as && as->is_array())
    for (const Json& a : *as)
      if (GetString(a, "type") == "InternalIP" && ep.address.empty())
        ep.address = GetString(a, "address");
  const Json* p = Find(*node, "status.daemonEndpoints.kubeletEndpoint.Port");
  auto ip = net::ParseIpv4(ep.address);
  if (!ip || p == nullptr || !p->is_number_integer() || p->get<int64_t>() < 1 ||
      p->get<int64_t>() > 65535)
    return MakeError(Code::kUnavailable, "node " + node_name +
                                             " reports no IPv4 InternalIP and stream port "
                                             "(status.daemonEndpoints.kubeletEndpoint.Port)");
  ep.ip = ip->value;
  ep.port = static_cast<uint16_t>(p->get<int64_t>());
  return ep;
}

std::string NodeRequestHead(const NodeEndpoint& ep, std::string_view method,
                            std::string_view target, const std::string& token,
                            std::string_view extra_headers, size_t body_size) {
  std::string h;
  h.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  h.append(ep.address).append(":").append(std::to_string(ep.port));
  h.append("\r\nAuthorization: Bearer ").append(token).append("\r\n");
  h.append(extra_headers);
  h.append("Content-Length: ").append(std::to_string(body_size)).append("\r\n\r\n");
  return h;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Result<std::string> ReadReplyHead(int fd) {
  std::string head;
  while (head.size() < kMaxReplyHead) {
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return MakeError(Code::kUnavailable, "the node closed the stream before answering");
    head.push_back(c);
    if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) return head;
  }
  return MakeError(Code::kInternal, "the node's answer head is too long");
}

int ReplyStatus(std::string_view head) {
  if (head.size() <= 12 || head.substr(0, 5) != "HTTP/") return 0;
  size_t sp = head.find(' ');
  if (sp == std::string_view::npos) return 0;
  return std::atoi(std::string(head.substr(sp + 1, 3)).c_str());
}

http::Response NodeProxy::Forward(const std::string& node_name, const http::Request& req,
                                  const std::string& target) {
  auto ep = ResolveNodeEndpoint(store_, node_name);
  if (!ep) {
    Error e = ep.error();
    if (e.code == Code::kNotFound) e.message = "nodes \"" + node_name + "\" not found";
    return apiserver::StatusResponse(e);
  }
  const std::string where =
      "node " + node_name + " (" + ep->address + ":" + std::to_string(ep->port) + ")";
  auto fd = sys::ConnectTcp(ep->ip, ep->port, kConnectTimeout);
  if (!fd)
    return apiserver::StatusResponse(
        Error{Code::kUnavailable, where + " is unreachable: " + fd.error().message});
  std::string extra = "Connection: close\r\n";
  if (auto ct = req.headers.Get("Content-Type")) extra += "Content-Type: " + *ct + "\r\n";
  timeval tv{kReplyTimeoutSeconds, 0};
  setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (!SendAll(fd->get(),
               NodeRequestHead(*ep, req.method, target, token_, extra, req.body.size()) + req.body))
    return apiserver::StatusResponse(Error{Code::kUnavailable, where + " closed the connection"});
  auto head = ReadReplyHead(fd->get());
  const int status = head ? ReplyStatus(*head) : 0;
  if (status < 200 || status > 599)
    return apiserver::StatusResponse(
        Error{Code::kUnavailable,
              where + " gave no answer: " + (head ? "not HTTP" : head.error().message)});
  timeval none{0, 0};  // a stream now: `logs -f` may stay quiet for long
  setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
  http::Response r;
  r.status = status;
  for (const std::string& line : Split(*head, '\n')) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || StartsWith(line, "HTTP/")) continue;
    std::string_view name = Trim(std::string_view(line).substr(0, colon));
    if (!HopByHop(name))
      r.headers.Set(std::string(name), std::string(Trim(std::string_view(line).substr(colon + 1))));
  }
  r.headers.Set("Connection", "close");
  auto node = std::make_shared<UniqueFd>(std::move(*fd));
  r.upgrade = [node](int client, std::string) { RelayToClient(node->get(), "", client); };
  return r;
}

std::string NodeProxy::ImageProxyNode(std::string_view path) {
  if (path.substr(0, kNodesPrefix.size()) != kNodesPrefix) return "";
  std::string_view rest = path.substr(kNodesPrefix.size());
  size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return "";
  std::string_view tail = rest.substr(slash);
  if (tail.substr(0, kNodeProxyImages.size()) != kNodeProxyImages) return "";
  if (tail.size() > kNodeProxyImages.size() && tail[kNodeProxyImages.size()] != '/') return "";
  return std::string(rest.substr(0, slash));
}

http::Response NodeProxy::ForwardImages(const http::Request& req) {
  const std::string node = ImageProxyNode(req.path);
  // /api/v1/nodes/NAME/proxy/asb/v1/images... -> /asb/v1/images... (the raw target keeps its
  // percent-encoding and query).
  // The name has no '/', so the first "/proxy/asb/v1/images" ends it (a node named "proxy"
  // too).
  const size_t at = req.target.find(kNodeProxyImages);
  if (node.empty() || at == std::string::npos)
    return apiserver::StatusResponse(
        Error{Code::kNotFound, "want /api/v1/nodes/NAME/proxy/asb/v1/images..."});
  return Forward(node, req, req.target.substr(at + sizeof("/proxy") - 1));
}

}  // namespace asb::asbd
