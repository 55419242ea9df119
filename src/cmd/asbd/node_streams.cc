#include "cmd/asbd/node_streams.h"

#include <mutex>

#include "apiserver/k8s_status.h"
#include "apiserver/pod_subresources.h"
#include "base/strings.h"

namespace asb::asbd {

// Security: constant-time, so the token can't be recovered byte by byte from timing.
bool BearerTokenMatches(const http::Request& req, const std::string& token) {
  auto auth = req.headers.Get("Authorization");
  if (!auth) return false;
  std::string_view v = Trim(*auth);
  if (v.size() < 7 || ToLower(v.substr(0, 7)) != "bearer ") return false;
  std::string given(Trim(v.substr(7)));
  if (given.size() != token.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  return diff == 0;
}

Result<std::unique_ptr<NodeStreams>> NodeStreams::Start(const std::string& host, uint16_t port,
                                                        std::string token) {
  if (token.empty())
    return MakeError(Code::kInvalidArgument, "the node's stream port needs a token");
  std::unique_ptr<NodeStreams> s(new NodeStreams());
  s->token_ = std::move(token);
  http::ServerOptions o;
  o.host = host;
  o.port = port;
  o.server_name = "asbd-node";
  ASB_ASSIGN_OR_RETURN(
      s->server_, http::Server::Start(o, [p = s.get()](http::Request& r) { return p->Handle(r); }));
  return s;
}

NodeStreams::~NodeStreams() {
  if (server_) server_->Stop();
}

void NodeStreams::Attach(node::NodeAgent* node, apiserver::PodStreams* logs, ImageApi* images) {
  std::unique_lock l(mu_);
  node_ = node;
  logs_ = logs;
  images_ = images;
}

http::Response NodeStreams::ContainerLogs(http::Request& req) {
  using apiserver::StatusResponse;
  if (req.method != "GET")
    return StatusResponse(Error{Code::kUnimplemented, "containerLogs is read with GET"});
  std::vector<std::string> parts = Split(req.path.substr(sizeof(kNodeLogsPrefix) - 1), '/');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty())
    return StatusResponse(
        Error{Code::kInvalidArgument, "want /containerLogs/NAMESPACE/POD/CONTAINER"});
  // A `-f` stream outlives this lock: it reads through logs_, which the daemon keeps until after
  // Stop() ended every stream (stopping_).
  std::shared_lock l(mu_);
  if (!node_ || !logs_) return StatusResponse(Error{Code::kUnavailable, "the node is not running"});
  auto sb = node_->SandboxOf(parts[0], parts[1]);
  if (!sb) {
    if (sb.error().code != Code::kNotFound) return StatusResponse(sb.error());
    return StatusResponse(Error{
        Code::kNotFound, "pod " + parts[0] + "/" + parts[1] + " is not running on this node"});
  }
  return apiserver::internal::ServeLogFiles(*logs_, stopping_, req, parts[0], parts[1], parts[2],
                                            sb->running ? "Running" : "Pending");
}

http::Response NodeStreams::Handle(http::Request& req) {
  if (req.path == "/healthz") return http::Response::Text(200, "ok\n");
  if (!BearerTokenMatches(req, token_)) return http::Response::Text(401, "Unauthorized\n");
  if (req.path.rfind(kNodeLogsPrefix, 0) == 0) return ContainerLogs(req);
  if (req.path.rfind(kImageApiPrefix, 0) == 0) {
    std::shared_lock l(mu_);
    if (!images_)
      return apiserver::StatusResponse(Error{Code::kUnavailable, "the image cache is not ready"});
    return images_->Handle(req);
  }
  if (req.path.rfind(kNodeDialPrefix, 0) != 0) return http::Response::Text(404, "not found\n");
  if (req.method != "POST") return http::Response::Text(405, "use POST\n");
  if (ToLower(req.headers.GetOr("Upgrade", "")) != kNodeDialUpgrade)
    return http::Response::Text(400, std::string("want Upgrade: ") + kNodeDialUpgrade + "\n");
  // NS/POD/PORT
  std::vector<std::string> parts = Split(req.path.substr(sizeof(kNodeDialPrefix) - 1), '/');
  int64_t port = 0;
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].size() > 5 ||
      parts[2].find_first_not_of("0123456789") != std::string::npos ||
      (port = std::stoll("0" + parts[2])) < 1 || port > 65535)
    return http::Response::Text(400, "want /asb/v1/dial/NAMESPACE/POD/PORT\n");
  Result<UniqueFd> fd = MakeError(Code::kUnavailable, "the node is not running");
  {
    std::shared_lock l(mu_);
    if (node_) fd = node_->DialPod(parts[0], parts[1], static_cast<uint16_t>(port));
  }
  if (!fd) {
    int status = fd.error().code == Code::kNotFound      ? 404
                 : fd.error().code == Code::kUnavailable ? 503
                                                         : 502;
    return http::Response::Text(status, fd.error().message + "\n");
  }
  http::Response resp;
  resp.status = 101;
  resp.headers.Set("Upgrade", kNodeDialUpgrade);
  resp.headers.Set("Connection", "Upgrade");
  auto pod = std::make_shared<UniqueFd>(std::move(*fd));
  resp.upgrade = [pod](int client, std::string pending) {
    apiserver::internal::RelaySockets(client, std::move(pending), pod->get(), "");
  };
  return resp;
}

}  // namespace asb::asbd
