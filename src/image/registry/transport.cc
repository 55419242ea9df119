#include "image/registry/transport.h"

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>  // before Asio, see docs: GCC 12 + Boost 1.74

#include "base/strings.h"

namespace asb::image::registry {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

std::string Url::Authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((https && port == "443") || (!https && port == "80")) return h;
  return h + ":" + port;
}

Result<Url> ParseUrl(std::string_view url) {
  Url u;
  std::string_view rest;
  if (StartsWith(url, "https://")) {
    rest = url.substr(8);
  } else if (StartsWith(url, "http://")) {
    u.https = false;
    rest = url.substr(7);
  } else {
    return MakeError(Code::kInvalidArgument, "URL \"" + std::string(url) + "\" is not http(s)");
  }
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    u.target = std::string(rest.substr(slash));
    if (u.target[0] == '?') u.target.insert(0, "/");
  }
  if (StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return MakeError(Code::kInvalidArgument, "bad URL host");
    u.host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (StartsWith(authority, ":")) u.port = std::string(authority.substr(1));
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty()) return MakeError(Code::kInvalidArgument, "URL has no host");
  if (u.port.empty()) u.port = u.https ? "443" : "80";
  if (!ParseInt(u.port) || *ParseInt(u.port) <= 0 || *ParseInt(u.port) > 65535) {
    return MakeError(Code::kInvalidArgument, "bad URL port \"" + u.port + "\"");
  }
  return u;
}

namespace {

// Runs one asynchronous operation to completion on `ioc`: the blocking calls of this file, with
// the tcp_stream's expiry as their deadline (blocking Asio calls have none).
template <class Start>
beast::error_code RunOne(net::io_context& ioc, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

Error NetError(const beast::error_code& ec, const std::string& what, const Url& url) {
  std::string where = what + " " + url.Authority();
  if (ec == beast::error::timeout) return Error{Code::kDeadlineExceeded, where + ": timed out", 0};
  return Error{Code::kUnavailable, where + ": " + ec.message(), 0};
}

// A plain-HTTP body of known length straight from the socket into the sink, `already` being
// what Beast read past the header: 1 MiB reads with poll() as each read's deadline. Beast's
// reads are 64 KiB, each arming and cancelling an Asio timer and running the io_context; that
// was a third of a loopback pull's CPU and made the download, not the unpack, its bottleneck.
Status SinkKnownLengthBody(int fd, std::string_view already, uint64_t length, const GetOptions& o,
                           const Url& url) {
  if (already.size() > length) already = already.substr(0, length);
  if (!already.empty()) ASB_RETURN_IF_ERROR(o.sink(already));
  uint64_t left = length - already.size();
  std::vector<char> chunk(1 << 20);
  const int timeout_ms = static_cast<int>(std::min<int64_t>(o.timeout.count(), INT32_MAX));
  while (left > 0) {
    ssize_t n = ::recv(fd, chunk.data(), std::min<uint64_t>(chunk.size(), left), 0);
    if (n > 0) {
      left -= static_cast<uint64_t>(n);
      ASB_RETURN_IF_ERROR(o.sink(std::string_view(chunk.data(), static_cast<size_t>(n))));
      continue;
    }
    if (n == 0) {
      return MakeError(Code::kUnavailable, "reading body from " + url.Authority() + ": closed " +
                                               std::to_string(left) + " bytes early");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      auto e = ErrnoUnexpected("reading body from " + url.Authority());
      e.value().code = Code::kUnavailable;  // a network failure, as Beast's are
      return e;
    }
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno != EINTR) return ErrnoUnexpected("poll");
    if (r == 0) {
      return MakeError(Code::kDeadlineExceeded,
                       "reading body from " + url.Authority() + ": timed out");
    }
  }
  return {};
}

template <class Stream>
Result<HttpReply> Exchange(net::io_context& ioc, Stream& stream, const Url& url,
                           const GetOptions& o) {
  auto& lowest = beast::get_lowest_layer(stream);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, url.target, 11};
  req.set(bhttp::field::host, url.Authority());
  req.set(bhttp::field::user_agent, "asb");
  for (const auto& [k, v] : o.headers.items()) req.set(k, v);
  lowest.expires_after(o.timeout);
  if (auto ec = RunOne(ioc, [&](auto h) { bhttp::async_write(stream, req, h); })) {
    return tl::unexpected(NetError(ec, "sending request to", url));
  }
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.header_limit(64 * 1024);
  lowest.expires_after(o.timeout);
  if (auto ec = RunOne(ioc, [&](auto h) { bhttp::async_read_header(stream, buf, parser, h); })) {
    return tl::unexpected(NetError(ec, "reading response from", url));
  }
  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get()) {
    reply.headers.Add(std::string(f.name_string()), std::string(f.value()));
  }
  const bool to_sink = o.sink && reply.status / 100 == 2;
  if (to_sink && o.on_reply) ASB_RETURN_IF_ERROR(o.on_reply(reply));
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    if (to_sink && parser.content_length() && !parser.chunked()) {
      auto data = buf.data();
      ASB_RETURN_IF_ERROR(
          SinkKnownLengthBody(stream.socket().native_handle(),
                              std::string_view(static_cast<const char*>(data.data()), data.size()),
                              *parser.content_length(), o, url));
      return reply;
    }
  }
  const size_t limit = to_sink ? 0 : (reply.status / 100 == 2 ? o.max_body : size_t{64 * 1024});
  std::vector<char> chunk(256 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    lowest.expires_after(o.timeout);
    beast::error_code ec = RunOne(ioc, [&](auto h) { bhttp::async_read(stream, buf, parser, h); });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return tl::unexpected(NetError(ec, "reading body from", url));
    size_t n = chunk.size() - parser.get().body().size;
    std::string_view piece(chunk.data(), n);
    if (to_sink) {
      ASB_RETURN_IF_ERROR(o.sink(piece));
    } else if (reply.body.size() + n > limit) {
      if (reply.status / 100 != 2) break;  // an error body: its start is message enough
      return MakeError(Code::kResourceExhausted, "response from " + url.Authority() + " is over " +
                                                     std::to_string(limit) + " bytes");
    } else {
      reply.body.append(piece);
    }
  }
  return reply;
}

}  // namespace

Result<HttpReply> HttpGet(const Url& url, const GetOptions& o) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints;
  beast::error_code ec = RunOne(ioc, [&](auto h) {
    resolver.async_resolve(url.host, url.port,
                           [&endpoints, h](beast::error_code e, tcp::resolver::results_type r) {
                             endpoints = std::move(r);
                             h(e);
                           });
  });
  if (ec) return tl::unexpected(NetError(ec, "resolving", url));
  beast::tcp_stream tcp_stream(ioc);
  tcp_stream.expires_after(o.timeout);
  ec = RunOne(ioc, [&](auto h) { tcp_stream.async_connect(endpoints, h); });
  if (ec) return tl::unexpected(NetError(ec, "connecting to", url));
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);
  if (!url.https) return Exchange(ioc, tcp_stream, url, o);

  ssl::context ctx(ssl::context::tls_client);
  ctx.set_default_verify_paths(ec);
  if (ec) return MakeError(Code::kInternal, "loading the system CA certificates: " + ec.message());
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp_stream), ctx);
  tls.set_verify_callback(ssl::host_name_verification(url.host));
  if (!SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str())) {
    return MakeError(Code::kInternal, "TLS: setting SNI for " + url.host);
  }
  beast::get_lowest_layer(tls).expires_after(o.timeout);
  ec = RunOne(ioc, [&](auto h) { tls.async_handshake(ssl::stream_base::client, h); });
  if (ec) return tl::unexpected(NetError(ec, "TLS handshake with", url));
  return Exchange(ioc, tls, url, o);
}

}  // namespace asb::image::registry
