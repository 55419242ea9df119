// One HTTP(S) GET to a registry or its token service, with the response body either streamed to
// a sink (blobs: never held in memory whole) or read into memory up to a bound (manifests,
// tokens, error bodies). HTTPS verifies the peer against the system CA store and the host name.
// Every network step (resolve, connect, handshake, each read) has its own deadline, so a stalled
// registry fails the pull instead of hanging the node. Beast stays inside transport.cc.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "http/message.h"

namespace asb::image::registry {

struct Url {
  bool https = true;
  std::string host;  // without brackets for IPv6
  std::string port;  // "443" / "80" when the URL names none
  std::string target = "/";

  std::string Authority() const;  // host[:port] as the Host header writes it
};

// http:// and https:// URLs only. kInvalidArgument otherwise.
[[nodiscard]] Result<Url> ParseUrl(std::string_view url);

struct HttpReply {
  int status = 0;
  http::Headers headers;
  std::string body;  // empty when it went to the sink
};

struct GetOptions {
  http::Headers headers;
  // Called with each piece of a 2xx body; an error stops the transfer and is returned.
  // Unset: the body is kept in HttpReply::body.
  std::function<Status(std::string_view)> sink;
  // With `sink`: called with a 2xx reply's status and headers before any of its body goes to
  // the sink (a resumed blob checks its Content-Range here); an error stops the transfer.
  std::function<Status(const HttpReply&)> on_reply;
  // Bound on a body kept in memory (and on non-2xx bodies, which are always kept).
  size_t max_body = 1u << 20;
  std::chrono::milliseconds timeout{30000};  // per network step
};

// Errors: kUnavailable (resolve/connect/TLS/read failures, naming the host), kDeadlineExceeded,
// kResourceExhausted (a kept body over max_body), or the sink's error.
[[nodiscard]] Result<HttpReply> HttpGet(const Url& url, const GetOptions& options);

}  // namespace asb::image::registry
