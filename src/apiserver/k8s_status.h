// Kubernetes `Status` error objects (kind Status, apiVersion v1), rendered from an asb::Error:
// HTTP status and reason come from http/errors.h's one table, message and details from the
// Error. kubectl prints `Error from server (<reason>): <message>`.
#pragma once

#include <string>

#include "api/field_error.h"
#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"
#include "http/message.h"

namespace asb::apiserver {

// The Status body for `error`, details (name/group/kind/causes[]) when it has them.
Json StatusJson(const Error& error);
// The API server's error renderer (also http::ServerOptions::render_error for asbd's listener).
http::Response StatusResponse(const Error& error);

// A store/handler error about object `name` of `res` (null: none), phrased as kube-apiserver
// phrases it and given details {name, group, kind: <plural>} unless it already names what it is
// about (a missing namespace):
//   kNotFound      `sandboxes.agents.x-k8s.io "x" not found`
//   kAlreadyExists `sandboxes.agents.x-k8s.io "x" already exists`
//   kAborted       `Operation cannot be fulfilled on sandboxes.agents.x-k8s.io "x": <message>`
// Other codes keep their message.
Error ObjectError(Error error, const api::ResourceInfo* res, const std::string& name);

// 422 Invalid: `Kind.group "name" is invalid: <aggregate>` with details.causes.
Error InvalidError(const api::ResourceInfo& res, const std::string& name,
                   const api::FieldErrors& errors);

}  // namespace asb::apiserver
