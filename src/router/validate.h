// Pure request-routing rules of the router: which sandbox a request is for, whether the caller
// is authorised, and which headers reach the sandbox. No sockets here, so unit tests cover every
// rule with tables; router_server.cc applies them.
//
// The contract copies upstream's sandbox-router (sandbox-router/README.md): X-Sandbox-ID
// (required, DNS-1123 label), X-Sandbox-Namespace (default "default"), X-Sandbox-Port (default
// 8888) and the exact 400 messages, so SDKs written for upstream work unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace asb::router {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct RouteTarget {
  std::string ns = "default";
  std::string sandbox_id;
  uint16_t port = 8888;
};

// First value of a header (case-insensitive name), or nullptr.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);

// Reads X-Sandbox-ID / -Namespace / -Port. On failure, kInvalidArgument (400) with upstream's
// exact {"detail": ...} text as the message: "X-Sandbox-ID header is required.", "Invalid sandbox
// ID format.", "Invalid namespace format.", "Invalid port format.".
Result<RouteTarget> ResolveTarget(const HeaderList& headers);

// Checks "Authorization: Bearer <token>" against `token` in constant time. An empty `token`
// disables authentication (the caller opted out explicitly). Returns false when rejected.
bool Authorized(const HeaderList& headers, std::string_view token);

// What the sandbox receives instead of the client's headers:
//  - hop-by-hop headers (Connection and the names it lists, Keep-Alive, Proxy-*, TE, Trailer,
//    Upgrade unless `upgrade`) are dropped; framing (Content-Length, Transfer-Encoding) is kept;
//  - Authorization is dropped (Security: a sandbox must never see the caller's token);
//  - Host is rewritten, X-Forwarded-For/-Proto/-Host are set from the client connection;
//  - Expect is dropped (the router answers 100-continue itself);
//  - Origin is dropped on upgrades (upstream does this for Jupyter/vscode-server).
struct ForwardInfo {
  std::string client_ip;    // peer address of the client connection
  std::string host_header;  // Host to send to the sandbox
  bool upgrade = false;     // request asks for a protocol upgrade (WebSocket)
  std::string request_id;   // X-Request-Id to set when the client sent none
};
HeaderList ForwardRequestHeaders(const HeaderList& in, const ForwardInfo& info);

// Headers of the sandbox's response as the client sees them: hop-by-hop headers dropped (kept
// for a 101 upgrade: Connection and Upgrade are the handshake), framing kept.
HeaderList ForwardResponseHeaders(const HeaderList& in, bool upgrade_accepted);

// True when the request asks for a protocol switch (Connection: upgrade + Upgrade: x).
bool IsUpgradeRequest(const HeaderList& headers);

}  // namespace asb::router
