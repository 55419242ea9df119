// The conversion webhook over HTTPS: kube-apiserver POSTs ConversionReviews to /convert on the
// Service the CRDs name (webhook/conversion_review.h does the work). Also GET /healthz and
// /readyz for the Deployment's probes.
//
// TLS is terminated by apiserver::TlsFront in front of a loopback http::Server, as asbd's API
// port does; that front also relays plaintext HTTP on the same port (kube-apiserver always speaks
// TLS; conversion carries nothing secret the caller did not send).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/tls_front.h"
#include "base/result.h"
#include "http/server.h"

namespace asb::webhook {

struct WebhookServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 9443;  // upstream's webhook port (the Service maps 443 to it)
  // kube-apiserver sends one review per request it serves; a review of a large list page can
  // exceed the 3 MiB of one object, so the limit is the list's, not the object's.
  size_t max_body_bytes = 64 * 1024 * 1024;
  apiserver::CertificatePair cert;  // serving certificate and key (PEM)
};

// The route table (without sockets, for unit tests): POST /convert, GET /healthz, GET /readyz;
// 405 for other methods on those paths, 404 elsewhere.
http::Response HandleWebhookRequest(http::Request& request);

class WebhookServer {
 public:
  // Errors: kInvalidArgument (unusable certificate), kUnavailable (bind).
  [[nodiscard]] static Result<std::unique_ptr<WebhookServer>> Start(WebhookServerOptions options);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  uint16_t port() const { return front_->port(); }
  // Stops accepting and joins every thread. Idempotent.
  void Stop();

 private:
  WebhookServer() = default;
  std::unique_ptr<http::Server> backend_;
  std::unique_ptr<apiserver::TlsFront> front_;
};

}  // namespace asb::webhook
