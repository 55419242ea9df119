#include "apiserver/portforward.h"

#include "apiserver/k8s_status.h"
#include "apiserver/portforward_session.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/websocket.h"

namespace asb::apiserver::internal {

namespace {

// Binary WebSocket messages as a byte stream (message boundaries mean nothing to SPDY).
class WebSocketTransport final : public ByteTransport {
 public:
  explicit WebSocketTransport(http::ws::Connection& conn) : conn_(conn) {}
  std::string Read() override {
    while (true) {
      auto msg = conn_.Read();
      if (!msg) return {};
      if (!msg->data.empty()) return std::move(msg->data);
    }
  }
  bool Write(std::string_view bytes) override { return conn_.WriteBinary(bytes).has_value(); }

 private:
  http::ws::Connection& conn_;
};

// Comma-separated tokens of every `name` header, trimmed and lower-cased.
std::vector<std::string> HeaderTokens(const http::Request& req, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : req.headers.items()) {
    if (ToLower(k) != ToLower(name)) continue;
    for (const auto& t : Split(v, ','))
      if (auto s = Trim(t); !s.empty()) out.push_back(ToLower(s));
  }
  return out;
}

bool Has(const std::vector<std::string>& v, std::string_view x) {
  for (const auto& s : v)
    if (s == x) return true;
  return false;
}

}  // namespace

http::Response ServePortForward(store::Store& store, const ApiServerOptions& options,
                                http::Request& req, const std::string& ns,
                                const std::string& name) {
  if (req.method != "GET" && req.method != "POST")
    return StatusResponse(
        Error{Code::kUnimplemented,
              "port-forward needs an upgrade request (GET or POST), not " + req.method});
  auto pod = store.Get(api::PodResource(), ns, name);
  if (!pod) return StatusResponse(ObjectError(pod.error(), &api::PodResource(), name));
  std::string phase = GetString(*pod, "status.phase");
  if (phase != "Running")
    return StatusResponse(
        Error{Code::kInvalidArgument,
              "unable to forward port because pod is not running. Current status=" +
                  (phase.empty() ? std::string("Pending") : phase)});
  PodStreams* streams = options.pod_streams;
  if (!streams)
    return StatusResponse(
        Error{Code::kUnavailable, "port-forward is not available on this server"});

  std::vector<std::string> upgrade = HeaderTokens(req, "Upgrade");
  if (!Has(HeaderTokens(req, "Connection"), "upgrade") || upgrade.empty())
    return StatusResponse(Error{Code::kInvalidArgument,
                                "port-forward needs a protocol upgrade (Connection: Upgrade)"});
  auto run = [streams, ns, name](ByteTransport& transport) {
    PortForwardSession session(
        transport, [&](uint16_t port) { return streams->DialPod(ns, name, port); },
        ns + "/" + name);
    session.Run();
  };
  if (Has(upgrade, "websocket")) {
    // client-go's tunneling dialer: the SPDY byte stream rides in binary messages.
    auto accept = http::ws::AcceptUpgrade(req, {kWebSocketTunnelProtocol});
    if (!accept) return StatusResponse(Error{Code::kInvalidArgument, accept.error().message});
    accept->upgrade = [run](int fd, std::string pending) {
      http::ws::Connection conn(fd, http::ws::Role::kServer, std::move(pending));
      WebSocketTransport transport(conn);
      run(transport);
      conn.Close();
    };
    return std::move(*accept);
  }
  if (!Has(upgrade, "spdy/3.1"))
    return StatusResponse(
        Error{Code::kInvalidArgument, "unsupported upgrade protocol; want SPDY/3.1"});
  if (!Has(HeaderTokens(req, "X-Stream-Protocol-Version"), kPortForwardProtocol))
    return StatusResponse(Error{Code::kPermissionDenied,
                                "unable to upgrade: unable to negotiate protocol: client does not "
                                "support portforward.k8s.io"});

  http::Response resp;
  resp.status = 101;
  resp.headers.Set("Connection", "Upgrade");
  resp.headers.Set("Upgrade", "SPDY/3.1");
  resp.headers.Set("X-Stream-Protocol-Version", kPortForwardProtocol);
  resp.upgrade = [run](int fd, std::string pending) {
    SocketTransport transport(fd, std::move(pending));
    run(transport);
  };
  return resp;
}

}  // namespace asb::apiserver::internal
