// The one place where an asb::Error becomes an HTTP status: a single table of (code, reason)
// rows. Each protocol renders its error body from it -- Kubernetes `Status` for the API server
// (apiserver/k8s_status.h), upstream's FastAPI `{"detail": ...}` for asb-agent and the router
// (DetailResponse below) -- so no two places can disagree on a status.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "http/message.h"

namespace asb::http {

struct HttpError {
  int status = 500;
  std::string_view reason;  // Kubernetes' StatusReason word for it: "NotFound", "Invalid", ...
};

// The row for (error.code, error.reason) when the reason refines the code, else the code's own
// row. Code rows: InvalidArgument 400 BadRequest, Unauthenticated 401 Unauthorized,
// PermissionDenied 403 Forbidden, NotFound 404, Unimplemented 405 MethodNotAllowed, Aborted 409
// Conflict, AlreadyExists 409, FailedPrecondition 409 Conflict, Gone 410 Expired,
// ResourceExhausted 429 TooManyRequests, Internal (and a stray Ok) 500 InternalError,
// Unavailable 503 ServiceUnavailable, DeadlineExceeded 504 Timeout. Refinements: InvalidArgument
// + Invalid 422, + UnsupportedMediaType 415, + NotAcceptable 406; ResourceExhausted +
// RequestEntityTooLarge 413, + RequestHeaderFieldsTooLarge 431; Unavailable + BadGateway 502;
// Unimplemented + NotImplemented 501; Gone + Gone 410.
HttpError HttpErrorFor(const Error& error);
inline int HttpStatusFor(const Error& error) { return HttpErrorFor(error).status; }

// The reverse, for clients reading an error response: the row matching (status, reason), else
// the first row with that status (409 alone reads as Aborted), else Internal (5xx) or
// InvalidArgument (other 4xx). The Error keeps the server's reason and message as they came.
Error ErrorFromHttp(int status, std::string reason, std::string message);

// How a server renders the errors it answers itself (413, 431, a malformed request, a handler
// that threw, overload).
using ErrorRenderer = Response (*)(const Error& error);

// FastAPI's shape with the mapped status: {"detail": "<message>"}; an error with field causes
// gets the validation shape {"detail": [{"type": <reason>, "loc": [<field split on '.'>],
// "msg": <message>}]}.
Response DetailResponse(const Error& error);

}  // namespace asb::http
