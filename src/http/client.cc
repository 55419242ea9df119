#include "http/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <limits>
#include <utility>  // before Asio, see docs: GCC 12 + Boost 1.74

namespace asb::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Client::Impl {
  net::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  std::string host_header;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::Connect(const std::string& host, uint16_t port,
                               std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  auto addr = net::ip::make_address(h, ec);
  if (ec) return MakeError(Code::kInvalidArgument, "bad host " + host + " (numeric address)");
  tcp::endpoint ep(addr, port);
  impl->socket.open(ep.protocol(), ec);
  if (ec) return MakeError(Code::kUnavailable, "socket: " + ec.message());
  // A send timeout bounds connect() on a blocking socket.
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(impl->socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  impl->socket.connect(ep, ec);
  if (ec)
    return MakeError(Code::kUnavailable,
                     "connect " + host + ":" + std::to_string(port) + ": " + ec.message());
  impl->socket.set_option(tcp::no_delay(true), ec);
  impl->host_header = host + ":" + std::to_string(port);
  return Client(std::move(impl));
}

Client Client::FromFd(UniqueFd fd, std::string host_header) {
  auto impl = std::make_unique<Impl>();
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  bool v6 = ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
            ss.ss_family == AF_INET6;
  beast::error_code ec;
  impl->socket.assign(v6 ? tcp::v6() : tcp::v4(), fd.Release(), ec);
  int one = 1;
  ::setsockopt(impl->socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  impl->host_header = std::move(host_header);
  return Client(std::move(impl));
}

void Client::SetReadTimeout(std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(impl_->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int Client::native_handle() const { return impl_->socket.native_handle(); }

namespace {

bhttp::request<bhttp::string_body> BuildRequest(const Request& req, const std::string& host) {
  bhttp::request<bhttp::string_body> out;
  out.method_string(req.method);
  out.target(req.target.empty() ? "/" : req.target);
  out.version(11);
  for (const auto& [k, v] : req.headers.items()) out.set(k, v);
  if (!req.headers.Get("Host")) out.set(bhttp::field::host, host);
  out.body() = req.body;
  out.prepare_payload();
  return out;
}

Error IoError(const beast::error_code& ec, std::string_view what) {
  if (ec == net::error::would_block || ec == net::error::timed_out || ec == net::error::try_again)
    return Error{Code::kDeadlineExceeded, std::string(what) + ": timed out", 0};
  return Error{Code::kUnavailable, std::string(what) + ": " + ec.message(), 0};
}

}  // namespace

Result<ClientResponse> Client::Do(const Request& req) {
  auto out = BuildRequest(req, impl_->host_header);
  beast::error_code ec;
  bhttp::write(impl_->socket, out, ec);
  if (ec) return tl::unexpected(IoError(ec, "write request"));
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(
      std::numeric_limits<std::uint64_t>::max());  // boost::none is not "unlimited" in 1.74
  if (req.method == "HEAD") parser.skip(true);
  bhttp::read(impl_->socket, impl_->buffer, parser, ec);
  if (ec) return tl::unexpected(IoError(ec, "read response"));
  auto& msg = parser.get();
  ClientResponse resp;
  resp.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) resp.headers.Add(std::string(f.name_string()), std::string(f.value()));
  resp.body = std::move(msg.body());
  return resp;
}

Result<ClientResponse> Client::Stream(const Request& req,
                                      const std::function<bool(std::string_view)>& on_data) {
  auto out = BuildRequest(req, impl_->host_header);
  beast::error_code ec;
  bhttp::write(impl_->socket, out, ec);
  if (ec) return tl::unexpected(IoError(ec, "write request"));
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(
      std::numeric_limits<std::uint64_t>::max());  // boost::none is not "unlimited" in 1.74
  bhttp::read_header(impl_->socket, impl_->buffer, parser, ec);
  if (ec) return tl::unexpected(IoError(ec, "read response header"));
  ClientResponse resp;
  resp.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get())
    resp.headers.Add(std::string(f.name_string()), std::string(f.value()));
  char buf[16384];
  while (!parser.is_done()) {
    parser.get().body().data = buf;
    parser.get().body().size = sizeof(buf);
    // read_some, not read: read() keeps going until the buffer is full, so a watch line would
    // wait for the next 16 KiB of events.
    bhttp::read_some(impl_->socket, impl_->buffer, parser, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof) break;
      return tl::unexpected(IoError(ec, "read response body"));
    }
    size_t n = sizeof(buf) - parser.get().body().size;
    if (n > 0 && !on_data(std::string_view(buf, n))) break;
  }
  return resp;
}

Result<ClientResponse> Fetch(const std::string& host, uint16_t port, const Request& req) {
  ASB_ASSIGN_OR_RETURN(Client c, Client::Connect(host, port));
  return c.Do(req);
}

}  // namespace asb::http
