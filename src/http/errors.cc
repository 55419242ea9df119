#include "http/errors.h"

#include "base/strings.h"

namespace asb::http {

namespace {

struct Row {
  Code code;
  std::string_view reason;
  int status;
};

// The first row of each code is its default; later rows with the same code are refinements
// chosen by Error::reason. Order also decides the reverse lookup by status alone (Aborted before
// AlreadyExists: a bare 409 is a conflict to retry).
constexpr Row kRows[] = {
    {Code::kInvalidArgument, "BadRequest", 400},
    {Code::kUnauthenticated, "Unauthorized", 401},
    {Code::kPermissionDenied, "Forbidden", 403},
    {Code::kNotFound, "NotFound", 404},
    {Code::kUnimplemented, "MethodNotAllowed", 405},
    {Code::kAborted, "Conflict", 409},
    {Code::kAlreadyExists, "AlreadyExists", 409},
    {Code::kFailedPrecondition, "Conflict", 409},
    {Code::kGone, "Expired", 410},
    {Code::kResourceExhausted, "TooManyRequests", 429},
    {Code::kInternal, "InternalError", 500},
    {Code::kUnavailable, "ServiceUnavailable", 503},
    {Code::kDeadlineExceeded, "Timeout", 504},
    // Refinements.
    {Code::kInvalidArgument, "Invalid", 422},
    {Code::kInvalidArgument, "UnsupportedMediaType", 415},
    {Code::kInvalidArgument, "NotAcceptable", 406},
    {Code::kResourceExhausted, "RequestEntityTooLarge", 413},
    {Code::kResourceExhausted, "RequestHeaderFieldsTooLarge", 431},
    {Code::kUnavailable, "BadGateway", 502},
    {Code::kUnimplemented, "NotImplemented", 501},
    {Code::kGone, "Gone", 410},
};

}  // namespace

HttpError HttpErrorFor(const Error& error) {
  // An error that says it is Ok is a bug somewhere; it is answered as one.
  const Code code = error.code == Code::kOk ? Code::kInternal : error.code;
  const Row* fallback = nullptr;
  for (const Row& row : kRows) {
    if (row.code != code) continue;
    if (row.reason == error.reason) return {row.status, row.reason};
    if (fallback == nullptr) fallback = &row;
  }
  return {fallback->status, fallback->reason};
}

Error ErrorFromHttp(int status, std::string reason, std::string message) {
  const Row* by_status = nullptr;
  for (const Row& row : kRows) {
    if (row.status != status) continue;
    if (row.reason == reason) return Error{row.code, std::move(message), 0, std::move(reason)};
    if (by_status == nullptr) by_status = &row;
  }
  Code code = by_status       ? by_status->code
              : status >= 500 ? Code::kInternal
                              : Code::kInvalidArgument;
  return Error{code, std::move(message), 0, std::move(reason)};
}

Response DetailResponse(const Error& error) {
  const int status = HttpStatusFor(error);
  if (error.details == nullptr || error.details->causes.empty())
    return Response::Json(status, {{"detail", error.message}});
  Json detail = Json::array();
  for (const FieldCause& cause : error.details->causes) {
    Json loc = Json::array();
    for (const std::string& part : Split(cause.field, '.')) loc.push_back(part);
    detail.push_back({{"type", cause.reason}, {"loc", std::move(loc)}, {"msg", cause.message}});
  }
  return Response::Json(status, {{"detail", std::move(detail)}});
}

}  // namespace asb::http
