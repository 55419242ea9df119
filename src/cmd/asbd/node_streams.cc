#include "cmd/asbd/node_streams.h"

#include <mutex>

#include "apiserver/pod_subresources.h"
#include "base/strings.h"

namespace asb::asbd {

namespace {

// Security: constant-time, so the token can't be recovered byte by byte from timing.
bool BearerMatches(const http::Request& req, const std::string& token) {
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

}  // namespace

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

void NodeStreams::Attach(node::NodeAgent* node) {
  std::unique_lock l(mu_);
  node_ = node;
}

http::Response NodeStreams::Handle(http::Request& req) {
  if (req.path == "/healthz") return http::Response::Text(200, "ok\n");
  if (!BearerMatches(req, token_)) return http::Response::Text(401, "Unauthorized\n");
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
