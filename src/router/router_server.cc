// The router's proxy loop. This is the only router file that includes Boost.Beast.
//
// Connections are accepted and held while idle by http::ServerCore (bounded workers, per-IP and
// global caps with idle eviction); a ConnectionSession serves one request each time its client
// has input. Sockets are driven through http::FdStream (poll deadlines, MSG_NOSIGNAL).
#include "router/router_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <optional>
#include <utility>  // before Asio, see docs: GCC 12 + Boost 1.74
#include <vector>

#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/errors.h"
#include "http/fd_stream.h"
#include "router/auth.h"
#include "router/timing.h"
#include "router/validate.h"

namespace asb::router {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using beast::error_code;

namespace {

constexpr size_t kRelayChunk = 64 * 1024;
// Unread request bodies of rejected requests are discarded up to this size so the client can
// read our answer; beyond it the connection is closed.
constexpr uint64_t kMaxDrainBytes = 64ull * 1024 * 1024;
// Bodies are streamed, never held, so they have no size limit. Not boost::none: Boost 1.74's
// parser compares `len > body_limit` with an empty optional as "over the limit".
constexpr uint64_t kNoBodyLimit = std::numeric_limits<uint64_t>::max();

using http::FdStream;
using http::IsTimeout;
using http::ReadHeaderBounded;

HeaderList ToList(const bhttp::fields& fields) {
  HeaderList out;
  for (const auto& f : fields)
    out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return out;
}

void ReplaceFields(bhttp::fields& fields, const HeaderList& list) {
  fields.clear();
  for (const auto& [k, v] : list) fields.insert(k, v);
}

bool SendAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Copies bytes both ways after a 101 until both directions reached EOF (half-closes are passed
// on) or either side fails. Once one direction is done the other may idle at most `linger_ms`.
void RawRelay(int client, int upstream, int linger_ms) {
  std::vector<char> buf(kRelayChunk);
  bool open[2] = {true, true};  // [0] client->upstream, [1] upstream->client
  const int src[2] = {client, upstream};
  const int dst[2] = {upstream, client};
  while (open[0] || open[1]) {
    pollfd fds[2] = {{client, static_cast<short>(open[0] ? POLLIN : 0), 0},
                     {upstream, static_cast<short>(open[1] ? POLLIN : 0), 0}};
    int r = ::poll(fds, 2, open[0] && open[1] ? -1 : linger_ms);
    if (r == 0) return;
    if (r < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::recv(src[i], buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      if (n == 0) {
        ::shutdown(dst[i], SHUT_WR);
        open[i] = false;
        continue;
      }
      if (!SendAll(dst[i], buf.data(), static_cast<size_t>(n))) return;
    }
  }
}

enum class RelayResult { kOk, kReadFailed, kWriteFailed };

// Moves one message body from `in` to `out` through a fixed buffer: the parser fills it, the
// serializer (which shares the parser's message) sends it, chunk framing is re-encoded. read_some,
// not read, so a slowly streamed chunked body (exec output) is forwarded as it arrives.
template <bool isRequest>
RelayResult RelayBody(FdStream& in, beast::flat_buffer& in_buffer,
                      bhttp::parser<isRequest, bhttp::buffer_body>& parser, FdStream& out,
                      bhttp::serializer<isRequest, bhttp::buffer_body>& serializer,
                      std::vector<char>& buf, uint64_t* bytes, error_code& ec) {
  auto& body = parser.get().body();
  do {
    if (!parser.is_done()) {
      body.data = buf.data();
      body.size = buf.size();
      bhttp::read_some(in, in_buffer, parser, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return RelayResult::kReadFailed;
      size_t n = buf.size() - body.size;
      *bytes += n;
      if (n == 0 && !parser.is_done()) continue;  // only framing was parsed (chunk header)
      // An empty buffer would be serialized as the terminating zero-length chunk.
      body.data = n == 0 ? nullptr : buf.data();
      body.size = n;
      body.more = !parser.is_done();
    } else {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    }
    bhttp::write(out, serializer, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return RelayResult::kWriteFailed;
  } while (!serializer.is_done());
  return RelayResult::kOk;
}

bool BodylessStatus(unsigned status) { return status / 100 == 1 || status == 204 || status == 304; }

}  // namespace

// One client connection. The engine calls Serve() each time the client has input; the session
// keeps what must survive between requests: read-ahead bytes and the kept-alive upstream.
class ConnectionSession final : public http::Connection {
 public:
  ConnectionSession(RouterServer& server, int fd, std::string remote_ip, bool trusted);
  ~ConnectionSession() override { CloseUpstream(); }
  bool Serve() override { return !server_.core_->stopping() && ServeOne(); }
  bool HasBufferedInput() const override { return client_buffer_.size() > 0; }
  void OnStop() override {
    int fd = upstream_for_stop_.load();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  // Returns false when the client connection must end.
  bool ServeOne();
  // Answers an error the router decides itself: upstream's {"detail": ...} with the status
  // http/errors.h's table gives the error.
  // `unsent`: nothing of the request reached the sandbox (the connection into it failed), which
  // the reply says with Retry-After, so a client may send any request again (docs/api.md).
  bool Reply(const Error& error, bool keep_alive, bool unsent = false);
  void LingeringClose();
  // Reads and discards the rest of a request body. True when all of it was read.
  bool DrainBody(bhttp::request_parser<bhttp::buffer_body>& parser);
  bool Proxy(bhttp::request_parser<bhttp::buffer_body>& parser, const RouteTarget& target,
             const HeaderList& headers, std::chrono::steady_clock::time_point start,
             const std::string& request_id);
  bool UpstreamReusable(const RouteTarget& target) const;
  void SetUpstream(UniqueFd fd);
  void CloseUpstream();
  void AccessLog(std::string_view method, std::string_view path, const RouteTarget* target,
                 int status, uint64_t in, uint64_t out, std::chrono::steady_clock::time_point start,
                 const std::string& request_id);

  RouterServer& server_;
  FdStream client_;
  bool trusted_;  // authenticated by the daemon (ConnectTrusted): no bearer token needed
  beast::flat_buffer client_buffer_;
  std::string remote_ip_;
  std::vector<char> relay_buf_ = std::vector<char>(kRelayChunk);
  // Kept-alive upstream connection from the previous request, and whom it belongs to.
  UniqueFd upstream_fd_;
  std::atomic<int> upstream_for_stop_{-1};  // upstream_fd_ as seen by OnStop (another thread)
  RouteTarget upstream_target_;
  beast::flat_buffer upstream_buffer_;
};

ConnectionSession::ConnectionSession(RouterServer& server, int fd, std::string remote_ip,
                                     bool trusted)
    : server_(server), client_(fd), trusted_(trusted), remote_ip_(std::move(remote_ip)) {
  // Beast sizes each socket read by the buffer's free capacity (512 bytes for a fresh buffer):
  // reserve a full relay chunk so a bulk transfer is not cut into 512-byte reads.
  // max_size bounds one unparsed header line (ReadHeaderBounded bounds the whole header); a
  // full buffer ends the read with buffer_overflow.
  const size_t limit = std::max<size_t>(server_.options_.max_header_bytes, 1024);
  client_buffer_.max_size(limit);
  client_buffer_.reserve(std::min(kRelayChunk, limit));
  upstream_buffer_.max_size(std::max(limit, kRelayChunk));
}

void ConnectionSession::SetUpstream(UniqueFd fd) {
  upstream_fd_ = std::move(fd);
  upstream_for_stop_ = upstream_fd_.get();
  // Stop() may have run between Connect() and here: make sure this relay ends too.
  if (server_.core_->stopping()) ::shutdown(upstream_fd_.get(), SHUT_RDWR);
}

bool ConnectionSession::Reply(const Error& error, bool keep_alive, bool unsent) {
  http::Response rendered = http::DetailResponse(error);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(rendered.status), 11};
  res.set(bhttp::field::server, "asb-router");
  res.set(bhttp::field::content_type, "application/json");
  if (unsent) res.set(bhttp::field::retry_after, "1");
  if (error.code == Code::kUnauthenticated) res.set(bhttp::field::www_authenticate, "Bearer");
  res.body() = std::move(rendered.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  error_code ec;
  client_.set_timeout_ms(static_cast<int>(server_.options_.proxy_timeout.count()));
  bhttp::write(client_, res, ec);
  if (!ec && !keep_alive) LingeringClose();
  return !ec && keep_alive;
}

void ConnectionSession::LingeringClose() {
  // Closing a socket with unread input sends RST, which can destroy our answer before the
  // client reads it (a client still sending a huge header or body). Half-close and discard
  // what still arrives for a moment instead (nginx's lingering_close).
  ::shutdown(client_.fd(), SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  size_t discarded = 0;
  while (discarded < (8u << 20)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{client_.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    ssize_t n = ::recv(client_.fd(), relay_buf_.data(), relay_buf_.size(), 0);
    if (n <= 0) return;
    discarded += static_cast<size_t>(n);
  }
}

bool ConnectionSession::DrainBody(bhttp::request_parser<bhttp::buffer_body>& parser) {
  uint64_t drained = 0;
  auto& body = parser.get().body();
  while (!parser.is_done()) {
    body.data = relay_buf_.data();
    body.size = relay_buf_.size();
    error_code ec;
    bhttp::read_some(client_, client_buffer_, parser, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return false;
    drained += relay_buf_.size() - body.size;
    if (drained > kMaxDrainBytes) return false;
  }
  return true;
}

bool ConnectionSession::ServeOne() {
  const RouterOptions& opts = server_.options_;
  bhttp::request_parser<bhttp::buffer_body> parser;
  parser.header_limit(static_cast<uint32_t>(opts.max_header_bytes));
  parser.body_limit(kNoBodyLimit);
  error_code ec;
  // Serve runs once the client has input: the whole header must follow within header_timeout
  // (a slow-loris client can't hold a worker).
  client_.set_timeout_ms(-1);
  client_.set_deadline(std::chrono::steady_clock::now() + opts.header_timeout);
  ReadHeaderBounded(client_, client_buffer_, parser, opts.max_header_bytes, ec);
  client_.clear_deadline();
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    Reply(Error{Code::kResourceExhausted, "Request header fields too large.", 0,
                "RequestHeaderFieldsTooLarge"},
          false);
    return false;
  }
  if (ec) {
    // EOF or idle timeout between requests is the normal end of a keep-alive connection.
    if (ec != bhttp::error::end_of_stream && ec != net::error::eof && !IsTimeout(ec) &&
        ec != net::error::connection_reset)
      Reply(Error{Code::kInvalidArgument, "Malformed request."}, false);
    return false;
  }
  auto start = std::chrono::steady_clock::now();
  auto& req = parser.get();
  HeaderList headers = ToList(req);
  std::string method(req.method_string());
  std::string target_str(req.target());
  std::string path = target_str.substr(0, target_str.find('?'));
  std::string request_id;
  if (const std::string* rid = FindHeader(headers, "X-Request-Id"))
    request_id = *rid;
  else
    request_id = RandomHex(8);

  auto reject = [&](const Error& error, const RouteTarget* t) {
    bool drained = DrainBody(parser);
    AccessLog(method, path, t, http::HttpStatusFor(error), 0, 0, start, request_id);
    return Reply(error, drained && req.keep_alive());
  };

  if (path == "/healthz" && (method == "GET" || method == "HEAD")) {
    bool drained = DrainBody(parser);
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::server, "asb-router");
    res.set(bhttp::field::content_type, "application/json");
    res.body() = method == "GET" ? R"({"status":"ok"})" : "";
    res.keep_alive(drained && req.keep_alive());
    res.prepare_payload();
    bhttp::write(client_, res, ec);
    return !ec && res.keep_alive();
  }
  if (!trusted_ && !CredentialsValid(headers, opts.token))
    return reject(Error{Code::kUnauthenticated, "Missing or invalid bearer token."}, nullptr);
  auto route = ResolveTarget(headers);
  if (!route) return reject(route.error(), nullptr);
  return Proxy(parser, *route, headers, start, request_id);
}

bool ConnectionSession::UpstreamReusable(const RouteTarget& target) const {
  if (!upstream_fd_.valid() || target.ns != upstream_target_.ns ||
      target.sandbox_id != upstream_target_.sandbox_id || target.port != upstream_target_.port)
    return false;
  // An idle upstream that became readable has closed (or sent junk): don't send into it.
  pollfd p{upstream_fd_.get(), POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 0;
}

void ConnectionSession::CloseUpstream() {
  if (!upstream_fd_.valid()) return;
  upstream_for_stop_ = -1;
  upstream_fd_.Reset();
  upstream_buffer_.clear();
}

bool ConnectionSession::Proxy(bhttp::request_parser<bhttp::buffer_body>& parser,
                              const RouteTarget& target, const HeaderList& headers,
                              std::chrono::steady_clock::time_point start,
                              const std::string& request_id) {
  const RouterOptions& opts = server_.options_;
  // A request may ask for its own timeout (up to an hour), as upstream's SDKs do per command.
  const int timeout_ms =
      static_cast<int>(RequestTimeout(headers, opts.proxy_timeout, std::chrono::hours(1)).count());
  auto& req = parser.get();
  const std::string method(req.method_string());
  const std::string target_str(req.target());
  const std::string path = target_str.substr(0, target_str.find('?'));
  const bool client_keep_alive = req.keep_alive();
  const bool upgrade = IsUpgradeRequest(headers);
  const bool has_body = !parser.is_done();
  auto fail = [&](const Error& error, bool unsent) {
    CloseUpstream();
    bool drained = DrainBody(parser);
    AccessLog(method, path, &target, http::HttpStatusFor(error), 0, 0, start, request_id);
    return Reply(error, drained && client_keep_alive, unsent);
  };

  bool reused = UpstreamReusable(target);
  ProxyTiming timing;
  timing.reused = reused;
  auto dial_start = std::chrono::steady_clock::now();
  timing.resolve = dial_start - start;
  if (!reused) {
    CloseUpstream();
    ConnectTiming connect_timing;
    Result<UniqueFd> fd =
        server_.backend_.ConnectTimed(target.ns, target.sandbox_id, target.port, &connect_timing);
    timing.resolve += connect_timing.resolve;
    timing.dial = std::chrono::steady_clock::now() - dial_start - connect_timing.resolve;
    if (!fd) {
      const Error& e = fd.error();
      ASB_LOG(WARN, "router backend connect failed", "ns", target.ns, "sandbox", target.sandbox_id,
              "port", target.port, "code", CodeName(e.code), "error", e.message);
      // Nothing was sent: a sandbox that is starting (or whose server is not listening yet)
      // may be tried again, whatever the method.
      switch (e.code) {
        case Code::kNotFound:
          return fail(Error{Code::kNotFound,
                            "Sandbox '" + target.ns + "/" + target.sandbox_id + "' not found."},
                      false);
        case Code::kUnavailable:
        case Code::kFailedPrecondition:
          return fail(Error{Code::kUnavailable,
                            "Sandbox '" + target.sandbox_id + "' is not ready: " + e.message},
                      true);
        default:
          return fail(Error{Code::kUnavailable,
                            "Could not connect to the backend sandbox: " + target.sandbox_id, 0,
                            "BadGateway"},
                      true);
      }
    }
    int one = 1;
    ::setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SetUpstream(std::move(*fd));
    upstream_target_ = target;
    upstream_buffer_.clear();
    if (upstream_buffer_.capacity() < kRelayChunk) upstream_buffer_.reserve(kRelayChunk);
  }
  FdStream upstream(upstream_fd_.get());
  upstream.set_timeout_ms(timeout_ms);
  client_.set_timeout_ms(timeout_ms);

  error_code ec;
  if (has_body) {
    if (const std::string* expect = FindHeader(headers, "Expect");
        expect && ToLower(Trim(*expect)) == "100-continue") {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      net::write(client_, net::buffer(kContinue, sizeof(kContinue) - 1), ec);
      if (ec) return false;
    }
  }

  // Rewrite the header in place: the serializer sends the parser's own message.
  ForwardInfo info{remote_ip_, "localhost:" + std::to_string(target.port), upgrade, request_id};
  ReplaceFields(req, ForwardRequestHeaders(headers, info));
  req.version(11);

  uint64_t bytes_in = 0;
  bool request_sent = true;
  const auto send_start = std::chrono::steady_clock::now();
  {
    bhttp::request_serializer<bhttp::buffer_body> sr{req};
    RelayResult r =
        RelayBody(client_, client_buffer_, parser, upstream, sr, relay_buf_, &bytes_in, ec);
    if (r == RelayResult::kReadFailed) {
      // The client broke off mid-body: the upstream got a truncated request, drop both.
      ASB_LOG(INFO, "router client aborted request body", "sandbox", target.sandbox_id,
              "request_id", request_id, "error", ec.message());
      CloseUpstream();
      return false;
    }
    if (r == RelayResult::kWriteFailed) {
      if (reused && bytes_in == 0 && !has_body) {
        // The kept-alive upstream went away between requests: nothing was consumed, so the
        // request can be sent again on a fresh connection.
        CloseUpstream();
        return Proxy(parser, target, headers, start, request_id);
      }
      request_sent = false;  // the sandbox may still have answered (e.g. 413 before the body)
    }
  }

  std::optional<bhttp::response_parser<bhttp::buffer_body>> rp_storage;
  auto fresh_parser = [&]() -> bhttp::response_parser<bhttp::buffer_body>& {
    auto& p = rp_storage.emplace();
    p.body_limit(kNoBodyLimit);
    p.header_limit(static_cast<uint32_t>(opts.max_header_bytes));
    if (method == "HEAD") p.skip(true);
    return p;
  };
  for (;;) {
    ReadHeaderBounded(upstream, upstream_buffer_, fresh_parser(), opts.max_header_bytes, ec);
    if (ec) break;
    unsigned status = rp_storage->get().result_int();
    // Interim responses (100, 103) are not relayed: the router already answered 100-continue.
    if (status / 100 != 1 || status == 101) break;
  }
  if (ec) {
    if (reused && bytes_in == 0 && !has_body &&
        (ec == net::error::eof || ec == bhttp::error::end_of_stream ||
         ec == net::error::connection_reset)) {
      CloseUpstream();
      return Proxy(parser, target, headers, start, request_id);
    }
    CloseUpstream();
    ASB_LOG(WARN, "router upstream response failed", "sandbox", target.sandbox_id, "request_id",
            request_id, "error", ec.message());
    bool client_ok = request_sent && parser.is_done() && client_keep_alive;
    Error error = IsTimeout(ec)
                      ? Error{Code::kDeadlineExceeded,
                              "Timed out waiting for the backend sandbox: " + target.sandbox_id}
                      : Error{Code::kUnavailable,
                              "Could not connect to the backend sandbox: " + target.sandbox_id, 0,
                              "BadGateway"};
    AccessLog(method, path, &target, http::HttpStatusFor(error), bytes_in, 0, start, request_id);
    return Reply(error, client_ok);
  }

  timing.upstream = std::chrono::steady_clock::now() - send_start;
  auto& rp = *rp_storage;
  auto& res = rp.get();
  const unsigned status = res.result_int();
  const bool switched = upgrade && status == 101;
  const bool framed =
      rp.chunked() || rp.content_length().has_value() || BodylessStatus(status) || method == "HEAD";
  const bool upstream_keep_alive = res.keep_alive() && framed && request_sent && !switched;
  const bool keep_client =
      client_keep_alive && framed && request_sent && parser.is_done() && !switched;
  ReplaceFields(res, ForwardResponseHeaders(ToList(res), switched));
  res.insert("Server-Timing", ServerTimingValue(timing));  // a list: the sandbox's own stay
  res.version(11);
  if (!switched) res.keep_alive(keep_client);

  uint64_t bytes_out = 0;
  bhttp::response_serializer<bhttp::buffer_body> sr{res};
  if (switched || BodylessStatus(status) || method == "HEAD") {
    bhttp::write_header(client_, sr, ec);
  } else {
    RelayResult r =
        RelayBody(upstream, upstream_buffer_, rp, client_, sr, relay_buf_, &bytes_out, ec);
    if (r != RelayResult::kOk) {
      ASB_LOG(INFO, "router response relay ended early", "sandbox", target.sandbox_id, "request_id",
              request_id, "side", r == RelayResult::kReadFailed ? "sandbox" : "client", "error",
              ec.message());
      CloseUpstream();
      AccessLog(method, path, &target, static_cast<int>(status), bytes_in, bytes_out, start,
                request_id);
      return false;
    }
  }
  AccessLog(method, path, &target, static_cast<int>(status), bytes_in, bytes_out, start,
            request_id);
  if (ec) {
    CloseUpstream();
    return false;
  }
  if (switched) {
    // Bytes that arrived behind the headers belong to the new protocol.
    if (client_buffer_.size() > 0) {
      net::write(upstream, client_buffer_.data(), ec);
      client_buffer_.consume(client_buffer_.size());
    }
    if (!ec && upstream_buffer_.size() > 0) {
      net::write(client_, upstream_buffer_.data(), ec);
      upstream_buffer_.consume(upstream_buffer_.size());
    }
    if (!ec)
      RawRelay(client_.fd(), upstream_fd_.get(), static_cast<int>(opts.idle_timeout.count()));
    CloseUpstream();
    return false;
  }
  if (!upstream_keep_alive) CloseUpstream();
  return keep_client;
}

void ConnectionSession::AccessLog(std::string_view method, std::string_view path,
                                  const RouteTarget* target, int status, uint64_t in, uint64_t out,
                                  std::chrono::steady_clock::time_point start,
                                  const std::string& request_id) {
  RecordRouterRequest(status, start);
  if (!server_.options_.access_log) return;
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASB_LOG(INFO, "router request", "method", method, "path", path, "ns",
          target ? target->ns : std::string("-"), "sandbox",
          target ? target->sandbox_id : std::string("-"), "port", target ? target->port : 0,
          "status", status, "bytes_in", in, "bytes_out", out, "ms", ms, "client", remote_ip_,
          "request_id", request_id);
}

Result<std::unique_ptr<RouterServer>> RouterServer::Start(RouterOptions options, Backend& backend) {
  std::unique_ptr<RouterServer> s(new RouterServer(std::move(options), backend));
  const RouterOptions& o = s->options_;
  http::CoreOptions core;
  core.host = o.host;
  core.port = o.port;
  core.max_connections = o.max_connections;
  core.max_connections_per_ip = o.max_connections_per_ip;
  core.min_workers = o.min_workers;
  core.max_workers = o.max_workers;
  core.idle_timeout = o.idle_timeout;
  core.name = "router";
  static const std::string kBusy = [] {
    http::Response busy =
        http::DetailResponse(Error{Code::kUnavailable, "Too many connections; retry later."});
    return "HTTP/1.1 " + std::to_string(busy.status) + " " +
           std::string(http::StatusText(busy.status)) +
           "\r\nServer: asb-router\r\n"
           "Content-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
           "Content-Length: " +
           std::to_string(busy.body.size()) + "\r\n\r\n" + busy.body;
  }();
  core.overload_response = kBusy;
  RouterServer* raw = s.get();
  auto started = http::ServerCore::Start(core, [raw](int fd, const http::Peer& peer) {
    return std::make_unique<ConnectionSession>(*raw, fd, peer.ip, peer.trusted);
  });
  if (!started) return tl::unexpected(started.error().Wrap("router"));
  s->core_ = std::move(*started);
  ASB_LOG(INFO, "router listening", "address", s->url(), "auth",
          s->options_.token.empty() ? "none" : "bearer");
  return s;
}

RouterServer::~RouterServer() { Stop(); }

uint16_t RouterServer::port() const { return core_->port(); }

std::string RouterServer::url() const {
  bool v6 = options_.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + options_.host + "]" : options_.host) + ":" +
         std::to_string(port());
}

void RouterServer::Stop() {
  if (core_) core_->Stop();
}

Result<UniqueFd> RouterServer::ConnectTrusted() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return MakeError(Code::kUnavailable, ErrnoError(errno, "router: socketpair").message);
  UniqueFd mine(pair[0]);
  // A tunnel from this host: log it as loopback.
  ASB_RETURN_IF_ERROR(core_->Adopt(pair[1], {"127.0.0.1", "127.0.0.1:tunnel", /*trusted=*/true}));
  return mine;
}

http::CoreStats RouterServer::stats() const { return core_->stats(); }

}  // namespace asb::router
