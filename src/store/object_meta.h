// Metadata accessors and the metadata rules ObjectStore enforces on every write, shared by the
// store's .cc files. Internal to the store: other components should use api/ helpers.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"

namespace asb::store::internal {

inline constexpr const char* kForegroundFinalizer = "foregroundDeletion";

// obj.metadata.<field>, or nullptr.
inline const Json* MetaField(const Json& obj, const char* field) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return nullptr;
  auto it = m->find(field);
  return it == m->end() ? nullptr : &*it;
}

inline std::string MetaString(const Json& obj, const char* field) {
  const Json* v = MetaField(obj, field);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

inline bool IsDeleting(const Json& obj) {
  const Json* v = MetaField(obj, "deletionTimestamp");
  return v && v->is_string() && !v->get_ref<const std::string&>().empty();
}

inline std::vector<std::string> Finalizers(const Json& obj) {
  std::vector<std::string> out;
  const Json* f = MetaField(obj, "finalizers");
  if (f && f->is_array())
    for (const Json& s : *f)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

inline bool HasFinalizer(const Json& obj, const std::string& name) {
  const Json* f = MetaField(obj, "finalizers");
  if (!f || !f->is_array()) return false;
  for (const Json& s : *f)
    if (s.is_string() && s.get_ref<const std::string&>() == name) return true;
  return false;
}

// uids named by metadata.ownerReferences.
inline std::vector<std::string> OwnerUids(const Json& obj) {
  std::vector<std::string> out;
  const Json* refs = MetaField(obj, "ownerReferences");
  if (!refs || !refs->is_array()) return out;
  for (const Json& r : *refs) {
    if (!r.is_object()) continue;
    auto it = r.find("uid");
    if (it != r.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
      out.push_back(it->get<std::string>());
  }
  return out;
}

// --- Rules (object_meta.cc) ---

std::string Quote(std::string_view s);
// "Sandbox.agents.x-k8s.io" (Kubernetes' qualified kind, as in "... is invalid" messages).
std::string QualifiedKind(const api::ResourceInfo& res);
// `sandboxes.agents.x-k8s.io "name" not found`.
std::string NotFoundMessage(const api::ResourceInfo& res, const std::string& name);

// Type checks on the metadata fields the store reads (so later accessors can't throw), plus the
// label syntax (api/). kInvalidArgument naming the field.
[[nodiscard]] Status CheckObject(const api::ResourceInfo& res, const Json& obj);
// The name rule that holds for every writer, not only the API server: an RFC 1123 label for
// namespaces, an RFC 1123 subdomain for everything else (api/ has the predicates).
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
