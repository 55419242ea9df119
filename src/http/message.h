// Library-independent HTTP request/response types. Handlers take and return these, so unit tests
// call handlers without sockets; only server.cc and client.cc include Boost.Beast.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json_util.h"

namespace asb::http {

// Ordered, case-insensitive header list (duplicates allowed, as on the wire).
class Headers {
 public:
  std::optional<std::string> Get(std::string_view name) const;
  std::string GetOr(std::string_view name, std::string fallback) const;
  void Set(std::string name, std::string value);  // replaces all of `name`
  void Add(std::string name, std::string value);
  void Remove(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target: "/api/v1/pods?watch=1"
  std::string path;    // percent-decoded path without the query
  std::string raw_query;
  std::multimap<std::string, std::string> query;  // decoded
  Headers headers;
  std::string body;
  std::string remote_addr;

  // First value of a query parameter, or nullopt.
  std::optional<std::string> Query(std::string_view name) const;
  // Splits "target" into path/raw_query/query. False on malformed percent-encoding.
  bool ParseTarget();
};

// A response body that is produced while the client reads it (chunked transfer encoding):
// watches, streamed exec output. Write returns false once the client is gone.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual bool Write(std::string_view data) = 0;
  // True when the peer closed or reset the connection (checked without blocking).
  virtual bool ClientGone() = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When set, the server sends headers with chunked encoding and calls this to produce the body.
  std::function<void(ResponseStream&)> stream;
  // With `stream`: the body's exact length. The server then sends Content-Length instead of
  // chunks and keeps the connection alive when the stream wrote exactly this many bytes (a file
  // download in bounded memory, framed like upstream's FileResponse).
  std::optional<uint64_t> stream_length;
  // When set, the server writes the status line and headers only (a 101 Switching Protocols
  // for WebSocket), then hands the connection to this function and closes it when it returns.
  // `fd` is the connected blocking socket (owned by the server; do not close it); `pending`
  // holds bytes the client already sent after the request head. Http::Server::Stop shuts the
  // socket down, which ends blocking reads in the function.
  std::function<void(int fd, std::string pending)> upgrade;

  static Response Json(int status, const asb::Json& body);
  static Response Text(int status, std::string body, std::string content_type = "text/plain");
};

using Handler = std::function<Response(Request&)>;

std::string_view StatusText(int status);

}  // namespace asb::http
