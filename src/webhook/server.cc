#include "webhook/server.h"

#include <utility>

#include "webhook/conversion_review.h"

namespace asb::webhook {

namespace {

// The server's own errors (413 above max_body_bytes, a handler that threw) as Failure reviews,
// so kube-apiserver reports the reason instead of a decoding error.
http::Response RenderError(const Error& error) {
  return http::Response::Json(http::HttpStatusFor(error), FailureReview("", error.message));
}

}  // namespace

http::Response HandleWebhookRequest(http::Request& request) {
  if (request.path == "/convert") {
    if (request.method != "POST")
      return http::Response::Json(405, FailureReview("", "POST a ConversionReview to /convert"));
    return HandleConvert(request);
  }
  if (request.path == "/healthz" || request.path == "/readyz") {
    if (request.method != "GET" && request.method != "HEAD")
      return http::Response::Text(405, "method not allowed\n");
    return http::Response::Text(200, "ok");
  }
  return http::Response::Text(404, "not found: the webhook serves /convert, /healthz, /readyz\n");
}

Result<std::unique_ptr<WebhookServer>> WebhookServer::Start(WebhookServerOptions options) {
  std::unique_ptr<WebhookServer> s(new WebhookServer());
  http::ServerOptions backend;
  backend.host = "127.0.0.1";
  backend.port = 0;
  backend.max_body_bytes = options.max_body_bytes;
  backend.server_name = "asb-conversion-webhook";
  backend.render_error = RenderError;
  backend.min_workers = 2;
  backend.max_workers = 32;
  ASB_ASSIGN_OR_RETURN(s->backend_, http::Server::Start(backend, HandleWebhookRequest));
  ASB_ASSIGN_OR_RETURN(s->front_, apiserver::TlsFront::Start(options.host, options.port,
                                                             s->backend_->port(), options.cert));
  return s;
}

WebhookServer::~WebhookServer() { Stop(); }

void WebhookServer::Stop() {
  if (front_) front_->Stop();
  if (backend_) backend_->Stop();
}

}  // namespace asb::webhook
