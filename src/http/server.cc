#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <utility>  // before Asio, see docs: GCC 12 + Boost 1.74

#include "base/log.h"
#include "http/listener.h"

namespace asb::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Streams chunks to a blocking socket.
class ChunkedStream final : public ResponseStream {
 public:
  explicit ChunkedStream(tcp::socket& socket) : socket_(socket) {}
  bool Write(std::string_view data) override {
    if (failed_) return false;
    if (data.empty()) return true;
    beast::error_code ec;
    net::write(socket_, bhttp::make_chunk(net::const_buffer(data.data(), data.size())), ec);
    if (ec) failed_ = true;
    return !failed_;
  }
  bool ClientGone() override {
    if (failed_) return true;
    pollfd p{socket_.native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) failed_ = true;
    return failed_;
  }
  bool Finish() {
    if (failed_) return false;
    beast::error_code ec;
    net::write(socket_, bhttp::make_chunk_last(), ec);
    return !ec;
  }

 private:
  tcp::socket& socket_;
  bool failed_ = false;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  std::unique_ptr<Server> s(new Server(std::move(options), std::move(handler)));
  ASB_ASSIGN_OR_RETURN(ListeningSocket listening, ListenTcp(s->options_.host, s->options_.port));
  s->port_ = listening.port;
  s->listen_fd_ = listening.fd.Release();
  s->acceptor_ = std::thread([srv = s.get()] { srv->AcceptLoop(); });
  return s;
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (stopping_.exchange(true)) {
    if (acceptor_.joinable()) acceptor_.join();
    return;
  }
  // Wakes the blocking accept(); close happens after the thread is gone.
  http::WakeAcceptor(listen_fd_);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::unique_lock l(mu_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  threads_done_.wait(l, [&] { return active_threads_ == 0; });
}

void Server::AcceptLoop() {
  http::AcceptLoop(listen_fd_, stopping_, [this](int fd) {
    std::lock_guard l(mu_);
    if (stopping_ || open_fds_.size() >= options_.max_connections) {
      ::close(fd);
      return;
    }
    open_fds_.insert(fd);
    ++active_threads_;
    std::thread([this, fd] {
      ServeConnection(fd);
      std::lock_guard g(mu_);
      open_fds_.erase(fd);
      ::close(fd);
      --active_threads_;
      threads_done_.notify_all();
    }).detach();
  });
}

void Server::ServeConnection(int fd) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  // The socket object must not close the fd: the owning thread does, after deregistering it.
  // Security: F_DUPFD_CLOEXEC, not dup(): a plain dup is inheritable, and a process the handler
  // spawns (asb-agent's /execute) would keep this client's connection open.
  int dup_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return;
  sockaddr_storage peer{};
  socklen_t plen = sizeof(peer);
  bool v6 = ::getsockname(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0 &&
            peer.ss_family == AF_INET6;
  socket.assign(v6 ? tcp::v6() : tcp::v4(), dup_fd, ec);
  if (ec) {
    ::close(dup_fd);
    return;
  }
  std::string remote;
  {
    auto ep = socket.remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  beast::flat_buffer buffer;
  while (!stopping_) {
    // Asio's blocking reads retry after SO_RCVTIMEO fires, so the idle limit between keep-alive
    // requests is enforced here with poll() before the next request starts.
    if (buffer.size() == 0) {
      pollfd p{dup_fd, POLLIN | POLLRDHUP, 0};
      int ready = ::poll(&p, 1, options_.idle_timeout_ms);
      if (ready <= 0 || (p.revents & (POLLERR | POLLHUP))) return;
    }
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    parser.header_limit(64 * 1024);
    bhttp::read(socket, buffer, parser, ec);
    Response resp;
    Request req;
    bool keep_alive = false;
    if (ec == bhttp::error::body_limit) {
      resp =
          Response::Json(413, {{"kind", "Status"},
                               {"apiVersion", "v1"},
                               {"status", "Failure"},
                               {"reason", "RequestEntityTooLarge"},
                               {"message", "request body exceeds " +
                                               std::to_string(options_.max_body_bytes) + " bytes"},
                               {"code", 413}});
    } else if (ec) {
      return;  // closed, timed out or garbage: nothing sensible to answer
    } else {
      auto& msg = parser.get();
      keep_alive = msg.keep_alive();
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      for (const auto& f : msg)
        req.headers.Add(std::string(f.name_string()), std::string(f.value()));
      req.body = std::move(msg.body());
      req.remote_addr = remote;
      if (!req.ParseTarget()) {
        resp = Response::Json(
            400,
            {{"error", {{"code", "INVALID_ARGUMENT"}, {"message", "malformed request target"}}}});
      } else {
        try {
          resp = handler_(req);
        } catch (const std::exception& e) {
          ASB_LOG(ERROR, "handler threw", "path", req.path, "what", e.what());
          resp = Response::Json(500, {{"error", {{"code", "INTERNAL"}, {"message", e.what()}}}});
        }
      }
    }
    if (resp.upgrade) {
      bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(resp.status), 11};
      for (const auto& [k, v] : resp.headers.items()) head.set(k, v);
      head.set(bhttp::field::server, options_.server_name);
      bhttp::response_serializer<bhttp::empty_body> sr{head};
      bhttp::write_header(socket, sr, ec);
      if (ec) return;
      auto pending = buffer.data();
      resp.upgrade(dup_fd, std::string(static_cast<const char*>(pending.data()), pending.size()));
      return;
    }
    if (resp.stream) {
      bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(resp.status), 11};
      for (const auto& [k, v] : resp.headers.items()) head.set(k, v);
      head.set(bhttp::field::server, options_.server_name);
      head.chunked(true);
      head.keep_alive(false);
      bhttp::response_serializer<bhttp::empty_body> sr{head};
      bhttp::write_header(socket, sr, ec);
      if (ec) return;
      ChunkedStream stream(socket);
      resp.stream(stream);
      stream.Finish();
      return;  // streams end the connection: simpler for clients that read to EOF
    }
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(resp.status), 11};
    for (const auto& [k, v] : resp.headers.items()) out.set(k, v);
    out.set(bhttp::field::server, options_.server_name);
    out.body() = std::move(resp.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    bhttp::write(socket, out, ec);
    if (ec || !keep_alive) {
      socket.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
  }
}

}  // namespace asb::http
