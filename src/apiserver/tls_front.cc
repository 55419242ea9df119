#include "apiserver/tls_front.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/cleanup.h"
#include "base/log.h"
#include "http/listener.h"

namespace asb::apiserver {

namespace {

std::string OpenSslError(const char* what) {
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_error_string_n(e, buf, sizeof(buf));
  return std::string(what) + ": " + buf;
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// After the last byte of the answer: stop sending, then read (and drop) what the client is
// still sending for a short while before the close. Closing a socket with unread input sends a
// reset, which can destroy the answer before the client reads it (a client still uploading a
// body the backend refused). Bounded: 200 ms of silence, 2 s, 16 MiB.
void LingerClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  constexpr size_t kMaxBytes = 16u << 20;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  char buf[16 * 1024];
  size_t drained = 0;
  while (drained < kMaxBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200))) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    drained += static_cast<size_t>(n);
  }
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

int ConnectBackend(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

struct TlsFront::Ssl {
  SSL_CTX* ctx = nullptr;
  ~Ssl() {
    if (ctx) SSL_CTX_free(ctx);
  }
};

std::string Base64Encode(std::string_view data) {
  static const char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
    i += 3;
  }
  if (i + 1 == data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<CertificatePair> GenerateSelfSignedCert(const std::vector<std::string>& hosts) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) return MakeError(Code::kInternal, OpenSslError("EVP_EC_gen"));
  Cleanup free_key([&] { EVP_PKEY_free(key); });
  X509* x = X509_new();
  Cleanup free_x([&] { X509_free(x); });
  X509_set_version(x, 2);
  uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial));
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("asbd"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  std::string san;
  for (const auto& h : hosts) {
    if (h.empty()) continue;
    if (!san.empty()) san += ",";
    san += (IsIp(h) ? "IP:" : "DNS:") + h;
  }
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  const std::pair<int, std::string> exts[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, san},
  };
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) return MakeError(Code::kInternal, OpenSslError("X509V3_EXT_conf_nid"));
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x, key, EVP_sha256()) == 0)
    return MakeError(Code::kInternal, OpenSslError("X509_sign"));
  BIO* cert_bio = BIO_new(BIO_s_mem());
  BIO* key_bio = BIO_new(BIO_s_mem());
  Cleanup free_bios([&] {
    BIO_free(cert_bio);
    BIO_free(key_bio);
  });
  if (!PEM_write_bio_X509(cert_bio, x) ||
      !PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr))
    return MakeError(Code::kInternal, OpenSslError("PEM_write"));
  return CertificatePair{BioString(cert_bio), BioString(key_bio)};
}

Result<std::unique_ptr<TlsFront>> TlsFront::Start(const std::string& host, uint16_t port,
                                                  uint16_t backend_port,
                                                  const CertificatePair& cert) {
  std::unique_ptr<TlsFront> f(new TlsFront());
  f->backend_port_ = backend_port;
  f->ssl_ = std::make_unique<Ssl>();
  f->ssl_->ctx = SSL_CTX_new(TLS_server_method());
  if (!f->ssl_->ctx) return MakeError(Code::kInternal, OpenSslError("SSL_CTX_new"));
  SSL_CTX_set_min_proto_version(f->ssl_->ctx, TLS1_2_VERSION);
  {
    BIO* cb = BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size()));
    X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    bool ok = x && key && SSL_CTX_use_certificate(f->ssl_->ctx, x) == 1 &&
              SSL_CTX_use_PrivateKey(f->ssl_->ctx, key) == 1;
    if (x) X509_free(x);
    if (key) EVP_PKEY_free(key);
    if (!ok) return MakeError(Code::kInvalidArgument, OpenSslError("bad TLS certificate or key"));
  }

  ASB_ASSIGN_OR_RETURN(http::ListeningSocket listening, http::ListenTcp(host, port));
  f->port_ = listening.port;
  f->listen_fd_ = listening.fd.Release();
  f->acceptor_ = std::thread([p = f.get()] { p->AcceptLoop(); });
  return f;
}

TlsFront::~TlsFront() { Stop(); }

void TlsFront::Stop() {
  if (stopping_.exchange(true)) return;
  // Wakes the blocking accept(); close happens after the thread is gone.
  http::WakeAcceptor(listen_fd_);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::unique_lock l(mu_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  done_.wait(l, [&] { return active_ == 0; });
}

void TlsFront::AcceptLoop() {
  http::AcceptLoop(listen_fd_, stopping_, [this](int fd) {
    std::lock_guard l(mu_);
    open_fds_.insert(fd);
    ++active_;
    std::thread([this, fd] {
      Relay(fd);
      std::lock_guard g(mu_);
      open_fds_.erase(fd);
      ::close(fd);
      --active_;
      done_.notify_all();
    }).detach();
  });
}

void TlsFront::Relay(int client_fd) {
  // The handshake must start within 10 s; after that the backend's own timeouts apply.
  timeval tv{10, 0};
  ::setsockopt(client_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  unsigned char first = 0;
  ssize_t peeked;
  do {
    peeked = ::recv(client_fd, &first, 1, MSG_PEEK);
  } while (peeked < 0 && errno == EINTR);
  if (peeked != 1) return;
  SSL* ssl = nullptr;
  Cleanup free_ssl([&] {
    if (ssl) SSL_free(ssl);
  });
  if (first == 0x16) {
    ssl = SSL_new(ssl_->ctx);
    if (!ssl) return;
    SSL_set_fd(ssl, client_fd);
    if (SSL_accept(ssl) != 1) {
      ERR_clear_error();
      return;
    }
  }
  timeval none{0, 0};
  ::setsockopt(client_fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
  int backend = ConnectBackend(backend_port_);
  if (backend < 0) return;
  Cleanup close_backend([&] { ::close(backend); });
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    open_fds_.insert(backend);
  }
  Cleanup forget_backend([&] {
    std::lock_guard l(mu_);
    open_fds_.erase(backend);
  });
  char buf[64 * 1024];
  // False once the backend stopped taking the request (it answered early, e.g. 413 for a body
  // over its limit, and closed): what the client still sends is read and dropped, so its
  // answer is still relayed.
  bool forwarding = true;
  while (true) {
    bool pending = ssl && SSL_pending(ssl) > 0;
    pollfd p[2] = {{client_fd, POLLIN, 0}, {backend, POLLIN, 0}};
    if (!pending && ::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    // The backend first: when both are readable, its answer must not wait behind (or be lost
    // by) a write it no longer reads.
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(backend, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (ssl) SSL_shutdown(ssl);  // one-way close_notify; don't wait for the peer's
        LingerClose(client_fd);
        return;
      }
      bool ok = ssl ? SSL_write(ssl, buf, static_cast<int>(n)) == n
                    : WriteAll(client_fd, buf, static_cast<size_t>(n));
      if (!ok) return;
    }
    if (pending || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      int n = ssl ? SSL_read(ssl, buf, sizeof(buf))
                  : static_cast<int>(::recv(client_fd, buf, sizeof(buf), 0));
      if (n <= 0) {
        if (ssl && SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) continue;
        return;
      }
      if (forwarding && !WriteAll(backend, buf, static_cast<size_t>(n))) forwarding = false;
    }
  }
}

}  // namespace asb::apiserver
