// Kubernetes `Status` error objects (kind Status, apiVersion v1) and the mapping from our error
// codes and field errors to them. kubectl prints `Error from server (<reason>): <message>`.
#pragma once

#include <string>

#include "api/field_error.h"
#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"
#include "http/message.h"

namespace asb::apiserver {

// A Status body. `details` may be null.
Json MakeStatus(int code, const std::string& reason, const std::string& message,
                const Json& details = nullptr);
http::Response StatusResponse(int code, const std::string& reason, const std::string& message,
                              const Json& details = nullptr);

// {"name":..,"group":..,"kind":<plural>} as Kubernetes fills details for resource errors.
Json ResourceDetails(const api::ResourceInfo& res, const std::string& name);

// Maps a store/handler error about object `name` of `res` to a Status response:
//   kNotFound  -> 404 NotFound      `sandboxes.agents.x-k8s.io "x" not found`
//   kAlreadyExists -> 409 AlreadyExists `... "x" already exists`
//   kAborted   -> 409 Conflict      `Operation cannot be fulfilled on ...: <message>`
//   kGone      -> 410 Expired, kInvalidArgument -> 400 BadRequest, kFailedPrecondition -> 409
//   Conflict (or 403 Forbidden for a terminating namespace), kUnauthenticated -> 401, ...
http::Response ErrorToStatus(const Error& error, const api::ResourceInfo* res,
                             const std::string& name);

// 422 Invalid: `Kind.group "name" is invalid: <aggregate>` with details.causes.
http::Response InvalidResponse(const api::ResourceInfo& res, const std::string& name,
                               const api::FieldErrors& errors);

}  // namespace asb::apiserver
