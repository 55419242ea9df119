#include "kube/transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <limits>
#include <thread>
#include <utility>  // before Asio, see docs: GCC 12 + Boost 1.74

#include "base/log.h"
#include "base/strings.h"

namespace asb::kube {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;

namespace {

std::string OpenSslError(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return std::string(what) + ": " + buf;
}

void SetTimeout(int fd, int opt, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

bool IsIpAddress(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// OpenSSL writes with write(2), which raises SIGPIPE on a connection the peer closed; this
// library must not kill a process that did not ignore it. Blocks SIGPIPE in this thread for the
// write and takes a SIGPIPE the write raised before unblocking (curl's sigpipe_ignore trick).
class NoSigpipe {
 public:
  NoSigpipe() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~NoSigpipe() {
    if (!already_pending_) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  NoSigpipe(const NoSigpipe&) = delete;
  NoSigpipe& operator=(const NoSigpipe&) = delete;

 private:
  sigset_t old_;
  bool already_pending_ = false;
};

}  // namespace

struct Transport::Tls {
  SSL_CTX* ctx = nullptr;
  ~Tls() {
    if (ctx) SSL_CTX_free(ctx);
  }
};

// One socket (TLS or plain) that Beast reads and writes as a SyncReadStream/SyncWriteStream.
// Timeouts are the socket's SO_RCVTIMEO / SO_SNDTIMEO; Cancel shuts the socket down so a read
// blocked in another thread returns.
class Transport::Connection {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Connection() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    ec = {};
    net::mutable_buffer b = *net::buffer_sequence_begin(buffers);
    if (b.size() == 0) return 0;
    int want = static_cast<int>(std::min<size_t>(b.size(), 1 << 30));
    int n =
        ssl_ ? SSL_read(ssl_, b.data(), want) : static_cast<int>(::recv(fd_, b.data(), want, 0));
    if (n > 0) {
      bytes_read_ += static_cast<size_t>(n);
      return static_cast<size_t>(n);
    }
    int err = errno;
    if (ssl_) {
      int se = SSL_get_error(ssl_, n);
      ERR_clear_error();
      if (se == SSL_ERROR_ZERO_RETURN || (se == SSL_ERROR_SYSCALL && n == 0)) {
        ec = net::error::eof;
      } else if ((se == SSL_ERROR_SYSCALL || se == SSL_ERROR_WANT_READ) &&
                 (err == EAGAIN || err == EWOULDBLOCK)) {
        ec = net::error::timed_out;
      } else {
        ec = net::error::connection_reset;
      }
    } else if (n == 0) {
      ec = net::error::eof;
    } else {
      ec = (err == EAGAIN || err == EWOULDBLOCK)
               ? beast::error_code(net::error::timed_out)
               : beast::error_code(err, boost::system::system_category());
    }
    return 0;
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, beast::error_code& ec) {
    ec = {};
    size_t total = 0;
    NoSigpipe no_sigpipe;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::const_buffer b = *it;
      const char* p = static_cast<const char*>(b.data());
      size_t left = b.size();
      while (left > 0) {
        int want = static_cast<int>(std::min<size_t>(left, 1 << 30));
        int n =
            ssl_ ? SSL_write(ssl_, p, want) : static_cast<int>(::send(fd_, p, want, MSG_NOSIGNAL));
        if (n <= 0) {
          int err = errno;
          ERR_clear_error();
          ec = (err == EAGAIN || err == EWOULDBLOCK)
                   ? beast::error_code(net::error::timed_out)
                   : beast::error_code(net::error::connection_reset);
          return total;
        }
        p += n;
        left -= static_cast<size_t>(n);
        total += static_cast<size_t>(n);
      }
    }
    return total;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    beast::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

  void SetReadTimeout(std::chrono::milliseconds t) { SetTimeout(fd_, SO_RCVTIMEO, t); }
  void Cancel() { ::shutdown(fd_, SHUT_RDWR); }

  beast::flat_buffer buffer;
  size_t bytes_read_ = 0;

 private:
  int fd_;
  SSL* ssl_;
};

Transport::Transport(const RestConfig& config, TransportOptions options)
    : config_(config),
      options_(std::move(options)),
      credentials_(config),
      limiter_(options_.qps, options_.burst) {}

Transport::~Transport() = default;

Result<std::unique_ptr<Transport>> Transport::Create(const RestConfig& config,
                                                     TransportOptions options) {
  std::unique_ptr<Transport> t(new Transport(config, std::move(options)));
  if (config.scheme != "https") return t;
  t->tls_ = std::make_unique<Tls>();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return MakeError(Code::kInternal, OpenSslError("SSL_CTX_new"));
  t->tls_->ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  // This client speaks HTTP/1.1 only; say so, or an h2-preferring server might pick h2.
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn) - 1);
  if (config.insecure_skip_tls_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (config.ca_pem.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        return MakeError(Code::kInternal, OpenSslError("system CA roots"));
    } else {
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      BIO* bio = BIO_new_mem_buf(config.ca_pem.data(), static_cast<int>(config.ca_pem.size()));
      int added = 0;
      while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        if (X509_STORE_add_cert(store, cert) == 1) ++added;
        X509_free(cert);
      }
      BIO_free(bio);
      ERR_clear_error();  // the loop ends on a "no start line" error
      if (added == 0)
        return MakeError(Code::kInvalidArgument, "certificate-authority holds no PEM certificate");
    }
  }
  if (!config.client_cert_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(config.client_cert_pem.data(),
                               static_cast<int>(config.client_cert_pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    bool ok = cert && SSL_CTX_use_certificate(ctx, cert) == 1;
    if (cert) X509_free(cert);
    // Intermediates after the leaf go out with it.
    while (ok) {
      X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      if (!extra) break;
      if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) X509_free(extra);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!ok)
      return MakeError(Code::kInvalidArgument, "client-certificate is not a PEM certificate");
    bio = BIO_new_mem_buf(config.client_key_pem.data(),
                          static_cast<int>(config.client_key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    if (key) EVP_PKEY_free(key);
    if (!ok)
      return MakeError(Code::kInvalidArgument,
                       OpenSslError("client-key does not match the client certificate"));
  }
  return t;
}

Result<std::unique_ptr<Transport::Connection>> Transport::Dial() {
  ++dials_;
  const std::string where = config_.host + ":" + std::to_string(config_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc =
          ::getaddrinfo(config_.host.c_str(), std::to_string(config_.port).c_str(), &hints, &res);
      rc != 0)
    return MakeError(Code::kUnavailable, "resolve " + config_.host + ": " + gai_strerror(rc));
  int fd = -1;
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    SetTimeout(fd, SO_SNDTIMEO, options_.dial_timeout);  // bounds connect() too
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    last = strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return MakeError(Code::kUnavailable, "connect " + where + ": " + last);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  SetTimeout(fd, SO_RCVTIMEO, options_.dial_timeout);  // the handshake
  if (!tls_) return std::make_unique<Connection>(fd, nullptr);

  SSL* ssl = SSL_new(tls_->ctx);
  auto conn = std::make_unique<Connection>(fd, ssl);  // owns fd and ssl from here
  if (!ssl) return MakeError(Code::kInternal, OpenSslError("SSL_new"));
  SSL_set_fd(ssl, fd);
  const std::string& name =
      config_.tls_server_name.empty() ? config_.host : config_.tls_server_name;
  if (!config_.insecure_skip_tls_verify) {
    if (IsIpAddress(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set1_host(ssl, name.c_str());
    }
  }
  if (!IsIpAddress(name)) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (SSL_connect(ssl) != 1) {
    long verify = SSL_get_verify_result(ssl);
    std::string why = verify != X509_V_OK ? std::string("certificate verify failed: ") +
                                                X509_verify_cert_error_string(verify)
                                          : OpenSslError("handshake");
    ERR_clear_error();
    return MakeError(Code::kUnavailable, "TLS to " + where + ": " + why);
  }
  return conn;
}

std::unique_ptr<Transport::Connection> Transport::TakeIdle() {
  std::lock_guard l(mu_);
  if (idle_.empty()) return nullptr;
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void Transport::PutIdle(std::unique_ptr<Connection> c) {
  std::lock_guard l(mu_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(c));
}

http::Request Transport::Build(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& content_type,
                               const std::string& token) const {
  http::Request req;
  req.method = method;
  req.target = target;
  req.body = body;
  req.headers.Set("Host", config_.host.find(':') != std::string::npos
                              ? "[" + config_.host + "]:" + std::to_string(config_.port)
                              : config_.host + ":" + std::to_string(config_.port));
  req.headers.Set("Accept", "application/json");
  req.headers.Set("User-Agent", options_.user_agent);
  if (!body.empty()) req.headers.Set("Content-Type", content_type);
  if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
  return req;
}

std::chrono::milliseconds Transport::Backoff(int attempt, const http::ClientResponse* resp) const {
  if (resp) {
    if (auto ra = resp->headers.Get("Retry-After")) {
      if (auto s = ParseInt(*ra); s && *s >= 0)
        return std::min(options_.max_backoff, std::chrono::milliseconds(*s * 1000));
    }
  }
  auto d = options_.base_backoff * (int64_t{1} << std::min(attempt, 10));
  return std::min(options_.max_backoff, d);
}

namespace {

bhttp::request<bhttp::string_body> ToBeast(const http::Request& req) {
  bhttp::request<bhttp::string_body> out;
  out.method_string(req.method);
  out.target(req.target);
  out.version(11);
  for (const auto& [k, v] : req.headers.items()) out.set(k, v);
  out.body() = req.body;
  out.prepare_payload();
  return out;
}

Error IoError(const beast::error_code& ec, std::string_view what) {
  if (ec == net::error::timed_out)
    return Error{Code::kDeadlineExceeded, std::string(what) + ": timed out", 0};
  return Error{Code::kUnavailable, std::string(what) + ": " + ec.message(), 0};
}

template <class Parser>
void CopyHeaders(const Parser& parser, http::ClientResponse* resp) {
  resp->status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get())
    resp->headers.Add(std::string(f.name_string()), std::string(f.value()));
}

}  // namespace

Result<http::ClientResponse> Transport::Do(const std::string& method, const std::string& target,
                                           const std::string& body,
                                           const std::string& content_type) {
  const bool idempotent = method == "GET";
  bool reauthed = false;
  Error last{Code::kUnavailable, "no attempt", 0};
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    if (attempt > 0) ++retries_;
    limiter_.Wait();
    ASB_ASSIGN_OR_RETURN(std::string token, credentials_.BearerToken());
    auto req = ToBeast(Build(method, target, body, content_type, token));
    std::unique_ptr<Connection> conn = TakeIdle();
    bool reused = conn != nullptr;
    if (!conn) {
      auto dialed = Dial();
      if (!dialed) {
        last = dialed.error();
        // Nothing was sent: retrying is safe for every method.
        std::this_thread::sleep_for(Backoff(attempt, nullptr));
        continue;
      }
      conn = std::move(*dialed);
    }
    ++requests_;
    conn->SetReadTimeout(options_.request_timeout);
    conn->bytes_read_ = 0;
    beast::error_code ec;
    bhttp::write(*conn, req, ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    if (!ec) bhttp::read(*conn, conn->buffer, parser, ec);
    if (ec) {
      if (ec == bhttp::error::body_limit)
        return MakeError(Code::kResourceExhausted,
                         method + " " + target + ": response larger than " +
                             std::to_string(options_.max_response_bytes) + " bytes");
      last = IoError(ec, method + " " + target);
      // A kept-alive connection the server closed while idle answers nothing: the request
      // never reached it, so send it again at once on a fresh connection.
      if (reused && conn->bytes_read_ == 0) {
        --attempt;
        continue;
      }
      if (!idempotent) return tl::unexpected(last);
      std::this_thread::sleep_for(Backoff(attempt, nullptr));
      continue;
    }
    http::ClientResponse resp;
    CopyHeaders(parser, &resp);
    resp.body = std::move(parser.get().body());
    if (parser.keep_alive()) PutIdle(std::move(conn));
    if (resp.status == 401 && !reauthed && (config_.exec || !config_.token_file.empty())) {
      reauthed = true;
      credentials_.Invalidate();
      --attempt;
      continue;
    }
    bool retry = resp.status == 429 || resp.status == 503 ||
                 (idempotent && (resp.status == 500 || resp.status == 502 || resp.status == 504));
    if (retry && attempt < options_.max_retries) {
      ASB_LOG(DEBUG, "API request retried", "method", method, "target", target, "status",
              resp.status);
      std::this_thread::sleep_for(Backoff(attempt, &resp));
      continue;
    }
    return resp;
  }
  return tl::unexpected(last);
}

namespace {

class StreamImpl : public Transport::Stream {
 public:
  explicit StreamImpl(std::unique_ptr<Transport::Connection> conn) : conn_(std::move(conn)) {}
  int status() const override { return static_cast<int>(parser.get().result_int()); }
  Transport::Connection& conn() { return *conn_; }
  Result<bool> Read(std::string* out) override {
    if (parser.is_done()) return false;
    char buf[16384];
    parser.get().body().data = buf;
    parser.get().body().size = sizeof(buf);
    beast::error_code ec;
    // read_some, not read: read() keeps going until the buffer is full, so an event would wait
    // for the next 16 KiB.
    bhttp::read_some(*conn_, conn_->buffer, parser, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    size_t n = sizeof(buf) - parser.get().body().size;
    out->append(buf, n);
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof) return false;
      return tl::unexpected(IoError(ec, "read stream"));
    }
    return !parser.is_done() || n > 0;
  }
  void Cancel() override { conn_->Cancel(); }

  bhttp::response_parser<bhttp::buffer_body> parser;

 private:
  std::unique_ptr<Transport::Connection> conn_;
};

}  // namespace

Result<std::unique_ptr<Transport::Stream>> Transport::OpenStream(const std::string& target,
                                                                 std::chrono::milliseconds idle) {
  bool reauthed = false;
  Error last{Code::kUnavailable, "no attempt", 0};
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    if (attempt > 0) {
      ++retries_;
      std::this_thread::sleep_for(Backoff(attempt - 1, nullptr));
    }
    limiter_.Wait();
    ASB_ASSIGN_OR_RETURN(std::string token, credentials_.BearerToken());
    auto req = ToBeast(Build("GET", target, "", "", token));
    auto dialed = Dial();
    if (!dialed) {
      last = dialed.error();
      continue;
    }
    std::unique_ptr<Connection> conn = std::move(*dialed);
    ++requests_;
    conn->SetReadTimeout(idle);
    beast::error_code ec;
    bhttp::write(*conn, req, ec);
    if (ec) {
      last = IoError(ec, "GET " + target);
      continue;
    }
    auto stream = std::make_unique<StreamImpl>(std::move(conn));
    stream->parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // a watch has no end
    bhttp::read_header(stream->conn(), stream->conn().buffer, stream->parser, ec);
    if (ec) {
      last = IoError(ec, "GET " + target);
      continue;
    }
    int status = stream->status();
    if (status == 401 && !reauthed && (config_.exec || !config_.token_file.empty())) {
      reauthed = true;
      credentials_.Invalidate();
      --attempt;
      continue;
    }
    if ((status == 429 || status >= 500) && attempt < options_.max_retries) continue;
    return std::unique_ptr<Stream>(std::move(stream));
  }
  return tl::unexpected(last);
}

}  // namespace asb::kube
