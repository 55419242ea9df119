// pods/NAME/portforward: `kubectl port-forward` against asbd (see portforward_session.h for the
// stream protocol). Two ways in, as kubectl 1.32 tries them:
//   1. GET with `Upgrade: websocket` and subprotocol `SPDY/3.1+portforward.k8s.io`: SPDY frames
//      tunnelled in binary WebSocket messages (client-go's tunneling dialer);
//   2. POST with `Upgrade: SPDY/3.1` and `X-Stream-Protocol-Version: portforward.k8s.io`, the
//      older upgrade kubectl falls back to when (1) is refused.
// Both run the same PortForwardSession. The pod must exist and be Running (400 otherwise, like
// kube-apiserver); ApiServerOptions::pod_streams->DialPod opens each forwarded connection (in
// asbd: PodDialer, the node or a mirror pod's component).
#pragma once

#include <string>

#include "apiserver/api_server.h"
#include "http/message.h"
#include "store/store.h"

namespace asb::apiserver::internal {

inline constexpr char kPortForwardProtocol[] = "portforward.k8s.io";
inline constexpr char kWebSocketTunnelProtocol[] = "SPDY/3.1+portforward.k8s.io";

http::Response ServePortForward(store::Store& store, const ApiServerOptions& options,
                                http::Request& req, const std::string& ns, const std::string& name);

}  // namespace asb::apiserver::internal
