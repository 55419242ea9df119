#include "http/server.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <utility>  // before Asio, see docs: GCC 12 + Boost 1.74

#include "base/log.h"
#include "base/strings.h"
#include "http/fd_stream.h"

namespace asb::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// A rejected body is read and discarded up to this much (or this long) so the client, which
// may still be sending, reads our answer instead of a connection reset.
constexpr size_t kMaxDiscardBytes = 64u << 20;
constexpr auto kMaxDiscardTime = std::chrono::seconds(10);

// Streams the body to the client socket: as chunks, or raw when the length was announced.
class ChunkedStream final : public ResponseStream {
 public:
  ChunkedStream(FdStream& stream, bool chunked) : stream_(stream), chunked_(chunked) {}
  bool Write(std::string_view data) override {
    if (failed_) return false;
    if (data.empty()) return true;
    beast::error_code ec;
    if (chunked_) {
      net::write(stream_, bhttp::make_chunk(net::const_buffer(data.data(), data.size())), ec);
    } else {
      net::write(stream_, net::const_buffer(data.data(), data.size()), ec);
    }
    written_ += data.size();
    if (ec) failed_ = true;
    return !failed_;
  }
  uint64_t written() const { return written_; }
  bool ClientGone() override {
    if (failed_) return true;
    pollfd p{stream_.fd(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) failed_ = true;
    return failed_;
  }
  bool Finish() {
    if (failed_) return false;
    if (!chunked_) return true;
    beast::error_code ec;
    net::write(stream_, bhttp::make_chunk_last(), ec);
    return !ec;
  }

 private:
  FdStream& stream_;
  const bool chunked_;
  bool failed_ = false;
  uint64_t written_ = 0;
};

class HttpConnection final : public Connection {
 public:
  HttpConnection(const ServerOptions& options, const Handler& handler, int fd, std::string remote)
      : options_(options),
        handler_(handler),
        stream_(fd),
        buffer_(std::max<size_t>(options.max_header_bytes, 1024) + 16 * 1024),
        remote_(std::move(remote)) {}

  bool Serve() override;
  bool HasBufferedInput() const override { return buffer_.size() > 0; }

 private:
  // Answers `error` in the server's protocol (ServerOptions::render_error).
  bool SendError(const Error& error, bool keep_alive);
  bool RejectTooLarge();
  bool SendResponse(Response& resp, bool keep_alive);

  const ServerOptions& options_;
  const Handler& handler_;
  FdStream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
};

bool HttpConnection::SendError(const Error& error, bool keep_alive) {
  Response r = options_.render_error(error);
  return SendResponse(r, keep_alive);
}

bool HttpConnection::RejectTooLarge() {
  SendError(Error{Code::kResourceExhausted,
                  "Request entity too large: limit is " + std::to_string(options_.max_body_bytes),
                  0, "RequestEntityTooLarge"},
            false);
  // Our side is done; read what the client still sends (bounded) so closing causes no reset
  // that would destroy the 413 before the client read it.
  ::shutdown(stream_.fd(), SHUT_WR);
  auto deadline = Clock::now() + kMaxDiscardTime;
  size_t discarded = buffer_.size();
  char buf[64 * 1024];
  while (discarded < kMaxDiscardBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{stream_.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(stream_.fd(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    discarded += static_cast<size_t>(n);
  }
  return false;
}

bool HttpConnection::SendResponse(Response& resp, bool keep_alive) {
  beast::error_code ec;
  stream_.set_timeout_ms(options_.io_timeout_ms);
  if (resp.upgrade) {
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(resp.status), 11};
    for (const auto& [k, v] : resp.headers.items()) head.set(k, v);
    head.set(bhttp::field::server, options_.server_name);
    bhttp::response_serializer<bhttp::empty_body> sr{head};
    bhttp::write_header(stream_, sr, ec);
    if (ec) return false;
    auto pending = buffer_.data();
    std::string rest(static_cast<const char*>(pending.data()), pending.size());
    buffer_.consume(buffer_.size());
    // The connection is the handler's until it returns (it keeps this worker); then it closes.
    resp.upgrade(stream_.fd(), std::move(rest));
    return false;
  }
  if (resp.stream) {
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(resp.status), 11};
    for (const auto& [k, v] : resp.headers.items()) head.set(k, v);
    head.set(bhttp::field::server, options_.server_name);
    const bool sized = resp.stream_length.has_value();
    if (sized) {
      head.content_length(*resp.stream_length);
    } else {
      head.chunked(true);
    }
    // Chunked streams end the connection: simpler for clients that read to EOF.
    head.keep_alive(sized && keep_alive);
    bhttp::response_serializer<bhttp::empty_body> sr{head};
    bhttp::write_header(stream_, sr, ec);
    if (ec) return false;
    ChunkedStream stream(stream_, !sized);
    resp.stream(stream);
    bool ok = stream.Finish();
    // A sized stream that wrote more or less than announced leaves the framing broken.
    return ok && sized && keep_alive && stream.written() == *resp.stream_length;
  }
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(resp.status), 11};
  for (const auto& [k, v] : resp.headers.items()) out.set(k, v);
  out.set(bhttp::field::server, options_.server_name);
  out.body() = std::move(resp.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  bhttp::write(stream_, out, ec);
  if (ec) return false;
  if (!keep_alive) ::shutdown(stream_.fd(), SHUT_WR);
  return keep_alive;
}

bool HttpConnection::Serve() {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(options_.max_body_bytes);
  parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
  beast::error_code ec;
  // The whole header within header_timeout: a client trickling bytes can't hold a worker.
  stream_.set_timeout_ms(-1);
  stream_.set_deadline(Clock::now() + std::chrono::milliseconds(options_.header_timeout_ms));
  ReadHeaderBounded(stream_, buffer_, parser, options_.max_header_bytes, ec);
  stream_.clear_deadline();
  stream_.set_timeout_ms(options_.io_timeout_ms);
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return SendError(
        Error{Code::kResourceExhausted,
              "request header exceeds " + std::to_string(options_.max_header_bytes) + " bytes", 0,
              "RequestHeaderFieldsTooLarge"},
        false);
  }
  // Beast checks Content-Length against body_limit as soon as the header is complete.
  if (ec == bhttp::error::body_limit) return RejectTooLarge();
  if (ec) {
    // EOF or timeout between requests ends a keep-alive connection; garbage gets a 400.
    if (ec != bhttp::error::end_of_stream && ec != net::error::eof && !IsTimeout(ec) &&
        ec != net::error::connection_reset)
      SendError(Error{Code::kInvalidArgument, "malformed HTTP request"}, false);
    return false;
  }
  if (auto length = parser.content_length(); length && *length > options_.max_body_bytes)
    return RejectTooLarge();
  auto& msg = parser.get();
  if (!parser.is_done()) {
    if (auto expect = msg.find(bhttp::field::expect);
        expect != msg.end() && ToLower(std::string(expect->value())) == "100-continue") {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      net::write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1), ec);
      if (ec) return false;
    }
    bhttp::read(stream_, buffer_, parser, ec);
    if (ec == bhttp::error::body_limit) return RejectTooLarge();
    if (ec) return false;  // client gone or stalled mid-body: nobody to answer
  }
  const bool keep_alive = msg.keep_alive();
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& f : msg) req.headers.Add(std::string(f.name_string()), std::string(f.value()));
  req.body = std::move(msg.body());
  req.remote_addr = remote_;
  Response resp;
  if (!req.ParseTarget()) {
    resp = options_.render_error(Error{Code::kInvalidArgument, "malformed request target"});
  } else {
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      ASB_LOG(ERROR, "handler threw", "path", req.path, "what", e.what());
      resp = options_.render_error(Error{Code::kInternal, e.what()});
    }
  }
  return SendResponse(resp, keep_alive);
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  std::unique_ptr<Server> s(new Server(std::move(options), std::move(handler)));
  const ServerOptions& o = s->options_;
  CoreOptions core;
  core.host = o.host;
  core.port = o.port;
  core.max_connections = o.max_connections;
  core.max_connections_per_ip = o.max_connections_per_ip;
  core.min_workers = o.min_workers;
  core.max_workers = o.max_workers;
  core.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
  core.name = o.server_name;
  // Written raw by ServerCore to a connection it refuses, rendered once in this protocol.
  Response busy = o.render_error(Error{Code::kUnavailable, "too many connections; retry later"});
  core.overload_response = "HTTP/1.1 " + std::to_string(busy.status) + " " +
                           std::string(StatusText(busy.status)) +
                           "\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                           "Connection: close\r\nContent-Length: " +
                           std::to_string(busy.body.size()) + "\r\n\r\n" + busy.body;
  Server* raw = s.get();
  ASB_ASSIGN_OR_RETURN(s->core_, ServerCore::Start(core, [raw](int fd, const Peer& peer) {
                         return std::make_unique<HttpConnection>(raw->options_, raw->handler_, fd,
                                                                 peer.address);
                       }));
  return s;
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (core_) core_->Stop();
}

}  // namespace asb::http
