// Schema building blocks shared by the per-version schema files (schema_kinds.cc: v1alpha1 and
// core/v1; schema_v1beta1.cc). Internal to api/.
#pragma once

#include <map>
#include <string>

#include "api/schema.h"

namespace asb::api {

namespace schema_parts {
SchemaPtr StrMap();
SchemaPtr Condition();
SchemaPtr PodTemplate();
SchemaPtr VolumeClaimTemplates();
SchemaPtr TemplateRef();
// SandboxClaim status.startup (KEP-1348; controller/claim_startup.h), the same in both versions.
SchemaPtr ClaimStartup();
// {apiVersion, kind, metadata, spec?, status?}
SchemaPtr Root(SchemaPtr spec, SchemaPtr status);
// The schema of `kind` in `by_kind`, or the permissive one (metadata checked, the rest kept) for
// kinds a version has no schema for.
const Schema& SchemaOfKind(const std::map<std::string, SchemaPtr>& by_kind,
                           const std::string& kind);
}  // namespace schema_parts

// The root schema of a v1beta1 agent-sandbox kind (permissive for others).
const Schema& V1beta1KindSchema(const ResourceInfo& res);

}  // namespace asb::api
