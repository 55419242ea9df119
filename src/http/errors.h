// The one place where asb::Error becomes an HTTP status and a JSON error body.
#pragma once

#include "base/result.h"
#include "http/message.h"

namespace asb::http {

// InvalidArgument 400, Unauthenticated 401, PermissionDenied 403, NotFound 404,
// AlreadyExists/Aborted/FailedPrecondition 409, Gone 410, ResourceExhausted 429, Internal 500,
// Unimplemented 501, Unavailable 503, DeadlineExceeded 504.
int HttpStatusFor(Code code);

// {"error": {"code": "NOT_FOUND", "message": "..."}} with the mapped status.
Response ErrorResponse(const Error& error);

}  // namespace asb::http
