// The metadata rules every component reads the same way: whether an object is being deleted,
// its finalizers, its owners. One copy for the store, the controllers and the node, so they
// cannot disagree about, say, an empty deletionTimestamp. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/json_util.h"

namespace asb::api {

// obj.metadata.<field>, or nullptr.
inline const Json* MetaField(const Json& obj, const char* field) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return nullptr;
  auto it = m->find(field);
  return it == m->end() ? nullptr : &*it;
}

// True when metadata.deletionTimestamp is set (a non-empty string): the object is on its way
// out and waits only for its finalizers.
inline bool IsDeleting(const Json& obj) {
  const Json* v = MetaField(obj, "deletionTimestamp");
  return v && v->is_string() && !v->get_ref<const std::string&>().empty();
}

// metadata.finalizers (non-string entries skipped).
inline std::vector<std::string> Finalizers(const Json& obj) {
  std::vector<std::string> out;
  const Json* f = MetaField(obj, "finalizers");
  if (f && f->is_array())
    for (const Json& s : *f)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

inline bool HasFinalizer(const Json& obj, std::string_view name) {
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

}  // namespace asb::api
