// TLS for the API port, so kubectl sends the bearer token: client-go never sends credentials to
// an http:// server (clientcmd only merges user auth when the transport is TLS), so a token-
// protected API must be served over https for kubectl.
//
// TlsFront owns the public listening socket. For each connection it peeks at the first byte:
// a TLS handshake (0x16) is terminated here with OpenSSL; anything else is plaintext HTTP (asbctl,
// the Python client, curl on loopback). Both are relayed byte for byte to the plain http::Server
// listening on an internal loopback port, which does all HTTP parsing and authentication, so
// every request still needs the token either way.
//
// Also creates the self-signed serving certificate asbd keeps in its state dir.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"

namespace asb::apiserver {

struct CertificatePair {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed P-256 certificate (CA:TRUE, serverAuth, valid 10 years) for `hosts`: IP
// addresses become IP SANs, names DNS SANs. kInternal on OpenSSL failure.
[[nodiscard]] Result<CertificatePair> GenerateSelfSignedCert(const std::vector<std::string>& hosts);

// Standard base64 (kubeconfig certificate-authority-data).
std::string Base64Encode(std::string_view data);

class TlsFront {
 public:
  // Listens on host:port (0 = free port) and relays to 127.0.0.1:backend_port.
  // Errors: kInvalidArgument (bad certificate), kUnavailable (bind).
  [[nodiscard]] static Result<std::unique_ptr<TlsFront>> Start(const std::string& host,
                                                               uint16_t port, uint16_t backend_port,
                                                               const CertificatePair& cert);
  ~TlsFront();
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  uint16_t port() const { return port_; }
  // Stops accepting, closes open connections and joins every thread. Idempotent.
  void Stop();

 private:
  TlsFront() = default;
  void AcceptLoop();
  void Relay(int client_fd);

  struct Ssl;  // OpenSSL context, kept out of this header
  std::unique_ptr<Ssl> ssl_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  uint16_t backend_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::set<int> open_fds_;
  std::condition_variable done_;
  size_t active_ = 0;
};

}  // namespace asb::apiserver
