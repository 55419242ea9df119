// Error vocabulary for the whole project: Result<T> = tl::expected<T, Error>, Status =
// Result<void>. Codes follow abseil's canonical set; http/errors.h maps them (and the reasons
// that refine them) to HTTP, one table for every protocol.
#pragma once

#include <cerrno>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace asb {

enum class Code {
  kOk,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kAborted,  // optimistic-concurrency conflict (stale resourceVersion)
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kUnimplemented,
  kGone,  // watch resourceVersion compacted away (HTTP 410)
  kInternal,
};

std::string_view CodeName(Code code);

// One invalid field, as Kubernetes' details.causes[] and FastAPI's detail[] list them.
struct FieldCause {
  std::string field;    // "spec.replicas"
  std::string reason;   // "FieldValueInvalid", "FieldValueRequired", ...
  std::string message;  // "Invalid value: -1: must be greater than or equal to 0"
};

// What an error is about, for the protocols that say so (Kubernetes' Status.details).
struct ErrorDetails {
  std::string name;   // the object's name
  std::string group;  // its API group ("" = core)
  std::string kind;   // what Kubernetes puts there: the plural resource, or the kind for Invalid
  std::vector<FieldCause> causes;
};

struct Error {
  Code code = Code::kInternal;
  std::string message;
  int sys_errno = 0;
  // A machine-readable refinement of `code` in Kubernetes' StatusReason words ("Invalid",
  // "RequestEntityTooLarge", "UnsupportedMediaType", ...); "" = the code's own reason. Callers
  // decide on `code` (and this), never on the text of `message`.
  std::string reason = {};
  // Shared so copying an Error stays cheap; null = none.
  std::shared_ptr<const ErrorDetails> details = {};

  // Prefixes context: Wrap("sandbox sb-1") on "pivot_root: EPERM" gives
  // "sandbox sb-1: pivot_root: EPERM".
  Error Wrap(std::string_view context) const& {
    Error e = *this;
    e.message = std::string(context) + ": " + message;
    return e;
  }
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> MakeError(Code code, std::string message) {
  return tl::unexpected(Error{code, std::move(message), 0});
}
// MakeError with a reason (and details): MakeError(Code::kInvalidArgument, "Invalid", msg, d).
inline tl::unexpected<Error> MakeError(Code code, std::string reason, std::string message,
                                       std::shared_ptr<const ErrorDetails> details = nullptr) {
  return tl::unexpected(Error{code, std::move(message), 0, std::move(reason), std::move(details)});
}
inline Status OkStatus() { return {}; }

// Maps errno to a code: ENOENT->kNotFound, EEXIST->kAlreadyExists, EACCES/EPERM->
// kPermissionDenied, ... and formats "what: strerror".
Error ErrnoError(int err, std::string_view what);
inline tl::unexpected<Error> ErrnoUnexpected(std::string_view what) {
  return tl::unexpected(ErrnoError(errno, what));
}

}  // namespace asb

#define ASB_CONCAT_INNER_(a, b) a##b
#define ASB_CONCAT_(a, b) ASB_CONCAT_INNER_(a, b)

#define ASB_RETURN_IF_ERROR(expr)                                 \
  do {                                                            \
    auto asb_status_ = (expr);                                    \
    if (!asb_status_) return tl::unexpected(asb_status_.error()); \
  } while (0)

#define ASB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp) return tl::unexpected(tmp.error());    \
  lhs = std::move(*tmp)

#define ASB_ASSIGN_OR_RETURN(lhs, expr) \
  ASB_ASSIGN_OR_RETURN_IMPL_(ASB_CONCAT_(asb_result_, __LINE__), lhs, expr)
