#include "api/patch.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/limits.h"
#include "base/strings.h"

namespace asb::api {

namespace {

constexpr std::string_view kSetOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromList = "$deleteFromPrimitiveList/";

const Schema* Child(const Schema* s, const std::string& key) {
  if (!s) return nullptr;
  if (s->type == SchemaType::kObject) return s->Property(key);
  if (s->type == SchemaType::kMap) return s->items.get();
  return nullptr;
}

// Stable reorder: elements named by `order` first, in that order; the rest keep theirs.
Json Reorder(const Json& list, const Json& order, const std::string& key) {
  if (!list.is_array() || !order.is_array()) return list;
  std::vector<bool> used(list.size(), false);
  Json out = Json::array();
  for (const auto& want : order) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (used[i]) continue;
      bool match = key.empty() ? list[i] == want
                               : (want.is_object() && list[i].is_object() && want.contains(key) &&
                                  list[i].contains(key) && list[i][key] == want[key]);
      if (match) {
        used[i] = true;
        out.push_back(list[i]);
        break;
      }
    }
  }
  for (size_t i = 0; i < list.size(); ++i)
    if (!used[i]) out.push_back(list[i]);
  return out;
}

Result<std::optional<Json>> MergeMap(const Json& orig, const Json& patch, const Schema* s);

Result<Json> MergeList(const Json& orig, const Json& patch, const Schema& s) {
  const std::string& key = s.patch_merge_key;
  Json result = orig.is_array() ? orig : Json::array();
  if (s.patch_merge_primitives) {
    for (const auto& v : patch)
      if (std::find(result.begin(), result.end(), v) == result.end()) result.push_back(v);
    return result;
  }
  // A {"$patch": "replace"} element means: the list is exactly the other elements.
  for (const auto& e : patch) {
    if (e.is_object() && GetString(e, "$patch") == "replace") {
      Json out = Json::array();
      for (const auto& other : patch)
        if (!(other.is_object() && other.contains("$patch"))) out.push_back(other);
      return out;
    }
  }
  for (const auto& e : patch) {
    if (!e.is_object() || !e.contains(key)) {
      result.push_back(e);
      continue;
    }
    auto found = std::find_if(result.begin(), result.end(), [&](const Json& o) {
      return o.is_object() && o.contains(key) && o[key] == e[key];
    });
    std::string directive = GetString(e, "$patch");
    if (directive == "delete") {
      if (found != result.end()) result.erase(found);
      continue;
    }
    if (!directive.empty() && directive != "merge")
      return MakeError(Code::kInvalidArgument, "unknown $patch directive in list: " + directive);
    ASB_ASSIGN_OR_RETURN(std::optional<Json> merged,
                         MergeMap(found == result.end() ? Json() : *found, e, s.items.get()));
    if (found == result.end()) {
      if (merged) result.push_back(std::move(*merged));
    } else if (merged) {
      *found = std::move(*merged);
    } else {
      result.erase(found);
    }
  }
  return result;
}

// nullopt: the map is deleted ($patch: delete).
Result<std::optional<Json>> MergeMap(const Json& orig, const Json& patch, const Schema* s) {
  if (!patch.is_object()) return std::optional<Json>(patch);
  if (auto it = patch.find("$patch"); it != patch.end()) {
    std::string directive = it->is_string() ? it->get<std::string>() : "";
    if (directive == "delete") return std::optional<Json>();
    if (directive == "replace") {
      Json out = patch;
      out.erase("$patch");
      return std::optional<Json>(std::move(out));
    }
    if (directive != "merge")
      return MakeError(Code::kInvalidArgument, "unknown $patch directive: " + DumpJson(*it));
  }
  Json result = orig.is_object() ? orig : Json::object();
  std::map<std::string, Json> orders;
  const Json* retain = nullptr;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "$patch") continue;
    if (k == "$retainKeys") {
      retain = &v;
      continue;
    }
    if (StartsWith(k, kSetOrder)) {
      orders[k.substr(kSetOrder.size())] = v;
      continue;
    }
    if (StartsWith(k, kDeleteFromList)) {
      std::string field = k.substr(kDeleteFromList.size());
      if (!v.is_array())
        return MakeError(Code::kInvalidArgument, std::string(k) + " must be a list");
      if (auto target = result.find(field); target != result.end() && target->is_array()) {
        Json kept = Json::array();
        for (const auto& e : *target)
          if (std::find(v.begin(), v.end(), e) == v.end()) kept.push_back(e);
        *target = std::move(kept);
      }
      continue;
    }
    if (StartsWith(k, "$"))
      return MakeError(Code::kInvalidArgument, "unknown strategic merge patch directive " + k);
    if (v.is_null()) {
      result.erase(k);
      continue;
    }
    const Schema* child = Child(s, k);
    auto cur = result.find(k);
    if (v.is_object()) {
      ASB_ASSIGN_OR_RETURN(std::optional<Json> merged,
                           MergeMap(cur == result.end() ? Json() : *cur, v, child));
      if (merged)
        result[k] = std::move(*merged);
      else
        result.erase(k);
    } else if (v.is_array() && child && child->type == SchemaType::kArray &&
               (!child->patch_merge_key.empty() || child->patch_merge_primitives)) {
      ASB_ASSIGN_OR_RETURN(Json merged, MergeList(cur == result.end() ? Json() : *cur, v, *child));
      result[k] = std::move(merged);
    } else {
      result[k] = v;
    }
  }
  for (const auto& [field, order] : orders) {
    auto it = result.find(field);
    if (it == result.end()) continue;
    const Schema* child = Child(s, field);
    *it = Reorder(*it, order, child ? child->patch_merge_key : "");
  }
  if (retain && retain->is_array()) {
    std::vector<std::string> drop;
    for (auto it = result.begin(); it != result.end(); ++it)
      if (std::find(retain->begin(), retain->end(), Json(it.key())) == retain->end())
        drop.push_back(it.key());
    for (const auto& k : drop) result.erase(k);
  }
  return std::optional<Json>(std::move(result));
}

}  // namespace

Result<Json> ApplyMergePatch(const Json& original, const Json& patch) {
  if (!patch.is_object())
    return MakeError(Code::kInvalidArgument, "a merge patch must be a JSON object");
  Json out = original;
  out.merge_patch(patch);
  return out;
}

Result<Json> ApplyStrategicMergePatch(const Json& original, const Json& patch,
                                      const Schema* schema) {
  if (!patch.is_object())
    return MakeError(Code::kInvalidArgument, "a strategic merge patch must be a JSON object");
  ASB_ASSIGN_OR_RETURN(std::optional<Json> out, MergeMap(original, patch, schema));
  if (!out) return MakeError(Code::kInvalidArgument, "a patch cannot delete the whole object");
  return std::move(*out);
}

Result<Json> ApplyJsonPatch(const Json& original, const Json& patch) {
  if (!patch.is_array())
    return MakeError(Code::kInvalidArgument, "a JSON patch must be a list of operations");
  if (patch.size() > kMaxJsonPatchOperations)
    return MakeError(Code::kResourceExhausted,
                     "The allowed maximum operations in a JSON patch is " +
                         std::to_string(kMaxJsonPatchOperations) + ", got " +
                         std::to_string(patch.size()));
  // Operations apply one at a time so copies can't grow the object without bound ("copy the
  // whole object into itself" doubles it per operation) and moves can't stack values into a
  // nesting deeper than any decoder allows. `depth` is an upper bound on the object's nesting,
  // kept without walking the object again.
  auto tokens = [](const std::string& pointer) {
    return static_cast<int>(std::count(pointer.begin(), pointer.end(), '/'));
  };
  int depth = JsonDepth(original);
  size_t copied = 0;
  Json out = original;
  // nlohmann reports malformed operations and failed tests by throwing; keep that inside.
  try {
    for (const Json& op : patch) {
      std::string name = GetString(op, "op");
      int at = tokens(GetString(op, "path"));
      if ((name == "add" || name == "replace") && op.contains("value")) {
        depth = std::max(depth, at + JsonDepth(op["value"]));
      } else if (name == "copy") {
        const Json& from = out.at(Json::json_pointer(GetString(op, "from")));
        copied += JsonNodeCount(from);
        if (copied > kMaxJsonPatchCopiedValues)
          return MakeError(Code::kResourceExhausted,
                           "the values copied by the JSON patch exceed the limit of " +
                               std::to_string(kMaxJsonPatchCopiedValues));
        depth = std::max(depth, at + JsonDepth(from));
      } else if (name == "move") {
        depth = std::max(depth, at + depth - tokens(GetString(op, "from")));
      }
      if (depth > kMaxJsonDepth)
        return MakeError(Code::kInvalidArgument,
                         "the JSON patch would nest the object deeper than " +
                             std::to_string(kMaxJsonDepth) + " levels");
      out.patch_inplace(Json::array({op}));
    }
  } catch (const Json::exception& e) {
    return MakeError(Code::kInvalidArgument, std::string("JSON patch failed: ") + e.what());
  }
  return out;
}

}  // namespace asb::api
