#include "controller/object_util.h"

#include <cstdio>

#include "base/strings.h"

namespace asb::controller {

std::string NameHash(std::string_view name) {
  uint32_t h = 2166136261u;
  for (unsigned char c : name) {
    h ^= c;
    h *= 16777619u;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%x", h);
  return buf;
}

bool IsReservedKey(std::string_view key) {
  return StartsWith(key, kReservedPrefix) || StartsWith(key, kReservedExtensionsPrefix) ||
         key == kAnnotationTraceContext;
}

std::string MakeKey(std::string_view ns, std::string_view name) {
  std::string k(ns);
  k += '/';
  k += name;
  return k;
}

std::string KeyOf(const Json& obj) { return MakeKey(Namespace(obj), Name(obj)); }

bool SplitKey(const std::string& key, std::string* ns, std::string* name) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) return false;
  *ns = key.substr(0, slash);
  *name = key.substr(slash + 1);
  return true;
}

std::string Name(const Json& obj) { return GetString(obj, "metadata.name"); }
std::string Namespace(const Json& obj) { return GetString(obj, "metadata.namespace"); }
std::string Uid(const Json& obj) { return GetString(obj, "metadata.uid"); }

int64_t Generation(const Json& obj) {
  const Json* g = Find(obj, "metadata.generation");
  return g && g->is_number_integer() ? g->get<int64_t>() : 0;
}

std::optional<SystemTime> CreationTime(const Json& obj) {
  return ParseRfc3339(GetString(obj, "metadata.creationTimestamp"));
}

std::map<std::string, std::string> StringMap(const Json* obj) {
  std::map<std::string, std::string> out;
  if (!obj || !obj->is_object()) return out;
  for (auto it = obj->begin(); it != obj->end(); ++it)
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  return out;
}

std::map<std::string, std::string> Labels(const Json& obj) {
  return StringMap(Find(obj, "metadata.labels"));
}
std::map<std::string, std::string> Annotations(const Json& obj) {
  return StringMap(Find(obj, "metadata.annotations"));
}

namespace {
std::optional<std::string> MapValue(const Json* m, std::string_view key) {
  if (!m || !m->is_object()) return std::nullopt;
  auto it = m->find(std::string(key));
  if (it == m->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}
Json& EnsureMap(Json& obj, const char* field) {
  if (!obj.is_object()) obj = Json::object();
  Json& meta = obj["metadata"];
  if (!meta.is_object()) meta = Json::object();
  Json& m = meta[field];
  if (!m.is_object()) m = Json::object();
  return m;
}
}  // namespace

std::optional<std::string> Label(const Json& obj, std::string_view key) {
  return MapValue(Find(obj, "metadata.labels"), key);
}
std::optional<std::string> Annotation(const Json& obj, std::string_view key) {
  return MapValue(Find(obj, "metadata.annotations"), key);
}
void SetLabel(Json& obj, std::string_view key, std::string_view value) {
  EnsureMap(obj, "labels")[std::string(key)] = std::string(value);
}
void SetAnnotation(Json& obj, std::string_view key, std::string_view value) {
  EnsureMap(obj, "annotations")[std::string(key)] = std::string(value);
}
void RemoveLabel(Json& obj, std::string_view key) {
  if (Find(obj, "metadata.labels")) obj["metadata"]["labels"].erase(std::string(key));
}

Json MapToJson(const std::map<std::string, std::string>& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

std::optional<OwnerRef> ControllerRef(const Json& obj) {
  const Json* refs = Find(obj, "metadata.ownerReferences");
  if (!refs || !refs->is_array()) return std::nullopt;
  for (const Json& r : *refs) {
    const Json* c = Find(r, "controller");
    if (c && c->is_boolean() && c->get<bool>()) {
      return OwnerRef{GetString(r, "apiVersion"), GetString(r, "kind"), GetString(r, "name"),
                      GetString(r, "uid")};
    }
  }
  return std::nullopt;
}

bool IsControlledBy(const Json& obj, const Json& owner) {
  auto ref = ControllerRef(obj);
  return ref && !ref->uid.empty() && ref->uid == Uid(owner);
}

Json MakeControllerRef(const api::ResourceInfo& owner_res, const Json& owner) {
  return Json{{"apiVersion", owner_res.ApiVersion()},
              {"kind", owner_res.kind},
              {"name", Name(owner)},
              {"uid", Uid(owner)},
              {"controller", true},
              {"blockOwnerDeletion", true}};
}

void SetControllerRef(Json& obj, const Json& ref) {
  Json out = Json::array();
  if (const Json* refs = Find(obj, "metadata.ownerReferences"); refs && refs->is_array()) {
    for (const Json& r : *refs) {
      const Json* c = Find(r, "controller");
      if (c && c->is_boolean() && c->get<bool>()) continue;
      out.push_back(r);
    }
  }
  out.push_back(ref);
  obj["metadata"]["ownerReferences"] = std::move(out);
}

const Json* FindCondition(const Json& obj, std::string_view type) {
  const Json* conds = Find(obj, "status.conditions");
  if (!conds || !conds->is_array()) return nullptr;
  for (const Json& c : *conds)
    if (GetString(c, "type") == type) return &c;
  return nullptr;
}

bool ConditionTrue(const Json& obj, std::string_view type) {
  const Json* c = FindCondition(obj, type);
  return c && GetString(*c, "status") == "True";
}

}  // namespace asb::controller
