// Metadata accessors and the metadata rules ObjectStore enforces on every write, shared by the
// store's .cc files. Internal to the store: other components should use api/ helpers.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/object_meta.h"
#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"

namespace asb::store::internal {

inline constexpr const char* kForegroundFinalizer = "foregroundDeletion";

// The shared metadata accessors (api/object_meta.h), under the names the store's files use.
using api::Finalizers;
using api::HasFinalizer;
using api::IsDeleting;
using api::MetaField;
using api::OwnerUids;

inline std::string MetaString(const Json& obj, const char* field) {
  const Json* v = MetaField(obj, field);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

// --- Rules (object_meta.cc) ---

std::string Quote(std::string_view s);
// "Sandbox.agents.x-k8s.io" (Kubernetes' qualified kind, as in "... is invalid" messages).
std::string QualifiedKind(const api::ResourceInfo& res);
// `sandboxes.agents.x-k8s.io "name" not found`.
std::string NotFoundMessage(const api::ResourceInfo& res, const std::string& name);

// Type checks on the metadata fields the store reads (so later accessors can't throw), plus the
// label syntax (base/k8s_names.h). kInvalidArgument naming the field.
[[nodiscard]] Status CheckObject(const api::ResourceInfo& res, const Json& obj);
// The name rule that holds for every writer, not only the API server: an RFC 1123 label for
// namespaces, an RFC 1123 subdomain for everything else (base/k8s_names.h).
[[nodiscard]] Status ValidateName(const api::ResourceInfo& res, const std::string& name);
// True when nothing outside metadata and status differs (what bumps metadata.generation).
bool SpecEqual(const Json& a, const Json& b);

std::string NewUuid();       // random (version 4) uid
std::string RandomSuffix();  // 5 chars of Kubernetes' generateName alphabet

// List continue tokens: the (namespace, name) the next page starts after.
std::string EncodeContinue(const std::string& ns, const std::string& name);
[[nodiscard]] Result<std::pair<std::string, std::string>> DecodeContinue(const std::string& token);

inline bool IsNamespaceResource(const api::ResourceInfo& res) {
  return res.group.empty() && res.plural == "namespaces";
}

}  // namespace asb::store::internal
