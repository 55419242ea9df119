// Per-kind defaulting and validation applied by the API server before every write, derived from
// the schema tree (api/schema.h) plus the semantic rules a schema can't say (name formats, pod
// containers, label syntax). Pure functions over unstructured JSON; thread-safe.
#pragma once

#include <string_view>

#include "api/field_error.h"
#include "api/resource.h"
#include "base/json_util.h"
#include "base/k8s_names.h"

namespace asb::api {

// Fills defaults (Sandbox spec.replicas=1, SandboxClaim spec.warmpool="default", ...).
// Idempotent. Ignores objects that are not JSON objects.
void ApplyDefaults(const ResourceInfo& res, Json& obj);

// Validates a whole object (metadata, spec, status) of kind `res`. Empty result = valid.
// Field paths are Kubernetes-style ("spec.podTemplate.spec.containers[0].image").
FieldErrors ValidateObject(const ResourceInfo& res, const Json& obj);

// The name and label syntax checks themselves are in base/k8s_names.h (one copy for every
// component).
// Rules that compare an update with the stored object (Pods: only the mutable spec fields may
// change). Main-resource updates only; status writes are not checked. Empty result = allowed.
FieldErrors ValidateUpdate(const ResourceInfo& res, const Json& old_obj, const Json& new_obj);

// Rules for a status subresource write: a SandboxClaim's status.startup fields are write-once
// (KEP-1348): one that is set may be neither changed nor removed. Empty result = allowed.
FieldErrors ValidateStatusUpdate(const ResourceInfo& res, const Json& old_obj, const Json& new_obj);

}  // namespace asb::api
