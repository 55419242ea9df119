// Discovery documents (legacy, non-aggregated) and the OpenAPI documents kubectl needs for
// `apply` with client validation on (see docs/api.md "kubectl requirements").
#pragma once

#include <optional>
#include <string>

#include "base/json_util.h"

namespace asb::apiserver {

// GET /version
Json VersionInfo();
// GET /api
Json ApiVersions(const std::string& advertise_address);
// GET /apis
Json ApiGroupList();
// GET /apis/G; nullopt for unknown groups.
std::optional<Json> ApiGroup(const std::string& group);
// GET /api/v1 (group "") or /apis/G/V; nullopt for unknown group versions.
std::optional<Json> ApiResourceList(const std::string& group, const std::string& version);

// GET /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL": ...}, "apis/G/V": ...}}.
Json OpenApiV3Index();
// GET /openapi/v3/<gv_path> where gv_path is "api/v1" or "apis/G/V"; nullopt if unknown.
// Carries one path per kind with x-kubernetes-group-version-kind and the fieldValidation
// parameter (which tells kubectl to leave validation to the server), plus component schemas
// derived from api/schema.h.
std::optional<Json> OpenApiV3Document(const std::string& gv_path);

}  // namespace asb::apiserver
