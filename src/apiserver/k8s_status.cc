#include "apiserver/k8s_status.h"

#include "base/strings.h"
#include "http/errors.h"

namespace asb::apiserver {

namespace {

std::shared_ptr<ErrorDetails> ResourceDetails(const api::ResourceInfo& res, const std::string& name,
                                              std::string kind) {
  auto d = std::make_shared<ErrorDetails>();
  d->name = name;
  d->group = res.group;
  d->kind = std::move(kind);
  return d;
}

}  // namespace

Json StatusJson(const Error& error) {
  const http::HttpError h = http::HttpErrorFor(error);
  // A reason the table does not know (a refinement for another protocol) still reads as the
  // code's Kubernetes reason; the table's row is what kubectl's client code switches on.
  Json s = {{"kind", "Status"},    {"apiVersion", "v1"},       {"metadata", Json::object()},
            {"status", "Failure"}, {"message", error.message}, {"reason", h.reason},
            {"code", h.status}};
  if (error.details) {
    const ErrorDetails& d = *error.details;
    Json details = Json::object();
    if (!d.name.empty()) details["name"] = d.name;
    if (!d.group.empty()) details["group"] = d.group;
    if (!d.kind.empty()) details["kind"] = d.kind;
    if (!d.causes.empty()) {
      Json causes = Json::array();
      for (const FieldCause& c : d.causes) {
        Json cause = {{"reason", c.reason}, {"message", c.message}};
        if (!c.field.empty()) cause["field"] = c.field;
        causes.push_back(std::move(cause));
      }
      details["causes"] = std::move(causes);
    }
    s["details"] = std::move(details);
  }
  return s;
}

http::Response StatusResponse(const Error& error) {
  return http::Response::Json(http::HttpStatusFor(error), StatusJson(error));
}

Error ObjectError(Error error, const api::ResourceInfo* res, const std::string& name) {
  if (error.code == Code::kInternal || error.code == Code::kOk) {
    error.code = Code::kInternal;
    error.message = "Internal error occurred: " + error.message;
    return error;
  }
  if (res == nullptr || error.details != nullptr) return error;
  const std::string quoted = res->GroupResource() + " \"" + name + "\"";
  switch (error.code) {
    case Code::kNotFound:
      if (!name.empty()) error.message = quoted + " not found";
      break;
    case Code::kAlreadyExists:
      if (!name.empty()) error.message = quoted + " already exists";
      break;
    case Code::kAborted:
      error.message =
          "Operation cannot be fulfilled on " + quoted + ": " +
          (error.message.empty() ? "the object has been modified; please apply your changes to the "
                                   "latest version and try again"
                                 : error.message);
      break;
    case Code::kGone:
    case Code::kInvalidArgument:
    case Code::kUnauthenticated:
    case Code::kResourceExhausted:
    case Code::kUnimplemented:
    case Code::kDeadlineExceeded:
    case Code::kUnavailable:
      return error;  // not about the object: Kubernetes gives these no details
    case Code::kInternal:
    case Code::kOk:  // handled above
    case Code::kFailedPrecondition:
    case Code::kPermissionDenied:
      break;
  }
  error.details = ResourceDetails(*res, name, res->plural);
  return error;
}

Error InvalidError(const api::ResourceInfo& res, const std::string& name,
                   const api::FieldErrors& errors) {
  std::string qualified = res.group.empty() ? res.kind : res.kind + "." + res.group;
  auto details = ResourceDetails(res, name, res.kind);
  for (const auto& e : errors) details->causes.push_back({e.field, e.Reason(), e.Message()});
  return Error{Code::kInvalidArgument,
               qualified + " \"" + name + "\" is invalid: " + api::AggregateMessage(errors), 0,
               "Invalid", std::move(details)};
}

}  // namespace asb::apiserver
