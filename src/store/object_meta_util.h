// Small accessors for metadata of unstructured objects, shared by the store's .cc files.
// Internal to the store: other components should use api/ helpers.
#pragma once

#include <string>
#include <vector>

#include "base/json_util.h"

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

}  // namespace asb::store::internal
