#include "apiserver/k8s_status.h"

#include "base/strings.h"

namespace asb::apiserver {

Json MakeStatus(int code, const std::string& reason, const std::string& message,
                const Json& details) {
  Json s = {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", Json::object()},
            {"status", code < 400 ? "Success" : "Failure"},
            {"message", message},
            {"reason", reason},
            {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return s;
}

http::Response StatusResponse(int code, const std::string& reason, const std::string& message,
                              const Json& details) {
  return http::Response::Json(code, MakeStatus(code, reason, message, details));
}

Json ResourceDetails(const api::ResourceInfo& res, const std::string& name) {
  Json d = {{"name", name}, {"kind", res.plural}};
  if (!res.group.empty()) d["group"] = res.group;
  return d;
}

http::Response ErrorToStatus(const Error& error, const api::ResourceInfo* res,
                             const std::string& name) {
  std::string gr = res ? res->GroupResource() : "";
  Json details = res ? ResourceDetails(*res, name) : Json(nullptr);
  std::string quoted = gr + " \"" + name + "\"";
  switch (error.code) {
    case Code::kNotFound:
      // The store names the missing thing itself when it is not the object (its namespace).
      if (res && !name.empty() && error.message.find("namespace") == std::string::npos)
        return StatusResponse(404, "NotFound", quoted + " not found", details);
      return StatusResponse(404, "NotFound", error.message, details);
    case Code::kAlreadyExists:
      if (res && !name.empty())
        return StatusResponse(409, "AlreadyExists", quoted + " already exists", details);
      return StatusResponse(409, "AlreadyExists", error.message, details);
    case Code::kAborted:
      return StatusResponse(
          409, "Conflict",
          "Operation cannot be fulfilled on " + quoted + ": " +
              (error.message.empty() ? "the object has been modified; please apply your changes "
                                       "to the latest version and try again"
                                     : error.message),
          details);
    case Code::kFailedPrecondition:
      if (error.message.find("terminat") != std::string::npos)
        return StatusResponse(403, "Forbidden", error.message, details);
      return StatusResponse(409, "Conflict", error.message, details);
    case Code::kGone:
      return StatusResponse(410, "Expired", error.message);
    case Code::kInvalidArgument:
      return StatusResponse(400, "BadRequest", error.message);
    case Code::kUnauthenticated:
      return StatusResponse(401, "Unauthorized", error.message);
    case Code::kPermissionDenied:
      return StatusResponse(403, "Forbidden", error.message, details);
    case Code::kResourceExhausted:
      return StatusResponse(429, "TooManyRequests", error.message);
    case Code::kUnimplemented:
      return StatusResponse(405, "MethodNotAllowed", error.message);
    case Code::kDeadlineExceeded:
      return StatusResponse(504, "Timeout", error.message);
    case Code::kUnavailable:
      return StatusResponse(503, "ServiceUnavailable", error.message);
    case Code::kOk:
    case Code::kInternal:
      break;
  }
  return StatusResponse(500, "InternalError", "Internal error occurred: " + error.message);
}

http::Response InvalidResponse(const api::ResourceInfo& res, const std::string& name,
                               const api::FieldErrors& errors) {
  std::string qualified = res.group.empty() ? res.kind : res.kind + "." + res.group;
  Json causes = Json::array();
  for (const auto& e : errors)
    causes.push_back({{"reason", e.Reason()}, {"message", e.Message()}, {"field", e.field}});
  Json details = {{"name", name}, {"kind", res.kind}, {"causes", causes}};
  if (!res.group.empty()) details["group"] = res.group;
  return StatusResponse(
      422, "Invalid", qualified + " \"" + name + "\" is invalid: " + api::AggregateMessage(errors),
      details);
}

}  // namespace asb::apiserver
