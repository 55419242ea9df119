#include "http/errors.h"

#include <gtest/gtest.h>

namespace asb::http {
namespace {

// Every code, with the status and reason Kubernetes answers for it (k8s.io/apimachinery's
// StatusReason constants and the codes its NewXxx constructors set).
TEST(ErrorsTest, EveryCodeMapsToKubernetesStatusAndReason) {
  struct Want {
    Code code;
    int status;
    std::string_view reason;
  };
  const Want wants[] = {
      {Code::kOk, 500, "InternalError"},  // an error claiming Ok is a bug, answered as one
      {Code::kInvalidArgument, 400, "BadRequest"},
      {Code::kNotFound, 404, "NotFound"},
      {Code::kAlreadyExists, 409, "AlreadyExists"},
      {Code::kFailedPrecondition, 409, "Conflict"},
      {Code::kAborted, 409, "Conflict"},
      {Code::kPermissionDenied, 403, "Forbidden"},
      {Code::kUnauthenticated, 401, "Unauthorized"},
      {Code::kResourceExhausted, 429, "TooManyRequests"},
      {Code::kUnavailable, 503, "ServiceUnavailable"},
      {Code::kDeadlineExceeded, 504, "Timeout"},
      {Code::kUnimplemented, 405, "MethodNotAllowed"},
      {Code::kGone, 410, "Expired"},
      {Code::kInternal, 500, "InternalError"},
  };
  static_assert(static_cast<int>(Code::kInternal) + 1 == std::size(wants), "a Code is missing");
  for (const Want& w : wants) {
    SCOPED_TRACE(std::string(CodeName(w.code)));
    HttpError got = HttpErrorFor(Error{w.code, "m"});
    EXPECT_EQ(got.status, w.status);
    EXPECT_EQ(got.reason, w.reason);
  }
}

TEST(ErrorsTest, ReasonsRefineTheirCodeOnly) {
  auto row = [](Code code, const char* reason) {
    HttpError e = HttpErrorFor(Error{code, "m", 0, reason});
    return std::to_string(e.status) + " " + std::string(e.reason);
  };
  EXPECT_EQ(row(Code::kInvalidArgument, "Invalid"), "422 Invalid");
  EXPECT_EQ(row(Code::kInvalidArgument, "UnsupportedMediaType"), "415 UnsupportedMediaType");
  EXPECT_EQ(row(Code::kInvalidArgument, "NotAcceptable"), "406 NotAcceptable");
  EXPECT_EQ(row(Code::kResourceExhausted, "RequestEntityTooLarge"), "413 RequestEntityTooLarge");
  EXPECT_EQ(row(Code::kResourceExhausted, "RequestHeaderFieldsTooLarge"),
            "431 RequestHeaderFieldsTooLarge");
  EXPECT_EQ(row(Code::kUnavailable, "BadGateway"), "502 BadGateway");
  EXPECT_EQ(row(Code::kUnimplemented, "NotImplemented"), "501 NotImplemented");
  EXPECT_EQ(row(Code::kGone, "Gone"), "410 Gone");
  // A reason that does not belong to the code cannot move its status.
  EXPECT_EQ(row(Code::kNotFound, "RequestEntityTooLarge"), "404 NotFound");
  EXPECT_EQ(row(Code::kInvalidArgument, "WarmPoolNotFound"), "400 BadRequest");
}

TEST(ErrorsTest, ClientReadsTheTableBackwards) {
  EXPECT_EQ(ErrorFromHttp(409, "AlreadyExists", "x").code, Code::kAlreadyExists);
  EXPECT_EQ(ErrorFromHttp(409, "Conflict", "x").code, Code::kAborted);
  EXPECT_EQ(ErrorFromHttp(409, "", "x").code, Code::kAborted);
  EXPECT_EQ(ErrorFromHttp(422, "Invalid", "x").code, Code::kInvalidArgument);
  EXPECT_EQ(ErrorFromHttp(413, "RequestEntityTooLarge", "x").code, Code::kResourceExhausted);
  EXPECT_EQ(ErrorFromHttp(404, "NotFound", "x").code, Code::kNotFound);
  EXPECT_EQ(ErrorFromHttp(410, "Expired", "x").code, Code::kGone);
  EXPECT_EQ(ErrorFromHttp(418, "", "x").code, Code::kInvalidArgument);
  EXPECT_EQ(ErrorFromHttp(599, "", "x").code, Code::kInternal);
  Error e = ErrorFromHttp(403, "Forbidden", "no");
  EXPECT_EQ(e.code, Code::kPermissionDenied);
  EXPECT_EQ(e.reason, "Forbidden");
  EXPECT_EQ(e.message, "no");  // the reason travels beside the message, not inside it
  // Round trip: every row reads back as the code (and reason) it was rendered from.
  for (int c = 1; c <= static_cast<int>(Code::kInternal); ++c) {
    Error sent{static_cast<Code>(c), "m"};
    HttpError wire = HttpErrorFor(sent);
    Error read = ErrorFromHttp(wire.status, std::string(wire.reason), "m");
    EXPECT_EQ(HttpErrorFor(read).status, wire.status) << CodeName(sent.code);
    EXPECT_EQ(HttpErrorFor(read).reason, wire.reason) << CodeName(sent.code);
  }
}

// The shape of upstream's FastAPI services: HTTPException -> {"detail": str}, request
// validation -> 422 {"detail": [{"type", "loc", "msg"}]}.
TEST(ErrorsTest, DetailResponseHasFastApiShape) {
  Response r = DetailResponse(Error{Code::kNotFound, "Sandbox 'default/x' not found."});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ParseJson(r.body).value(), Json({{"detail", "Sandbox 'default/x' not found."}}));
  EXPECT_EQ(r.headers.GetOr("Content-Type", ""), "application/json");

  auto details = std::make_shared<ErrorDetails>();
  details->causes.push_back({"body.file", "missing", "Field required"});
  r = DetailResponse(Error{Code::kInvalidArgument, "Field required", 0, "Invalid", details});
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(ParseJson(r.body).value(),
            Json::parse(R"({"detail":[{"type":"missing","loc":["body","file"],
                            "msg":"Field required"}]})"));
}

}  // namespace
}  // namespace asb::http
