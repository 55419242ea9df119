#include "api/schema.h"

#include <algorithm>

#include "base/clock.h"

namespace asb::api {

const Schema* Schema::Property(std::string_view name) const {
  for (const auto& [k, v] : properties)
    if (k == name) return v.get();
  return nullptr;
}

SchemaBuilder Obj(std::initializer_list<std::pair<std::string, SchemaPtr>> props) {
  SchemaBuilder b(SchemaType::kObject);
  b.raw().properties.assign(props.begin(), props.end());
  return b;
}

SchemaBuilder Arr(SchemaPtr items) {
  SchemaBuilder b(SchemaType::kArray);
  b.raw().items = std::move(items);
  return b;
}

SchemaBuilder MapOf(SchemaPtr values) {
  SchemaBuilder b(SchemaType::kMap);
  b.raw().items = std::move(values);
  return b;
}

namespace {

std::string Join(const std::string& path, std::string_view field) {
  return path.empty() ? std::string(field) : path + "." + std::string(field);
}

void FindUnknown(const Schema& s, Json& obj, const std::string& path, bool prune,
                 std::vector<std::string>* out) {
  switch (s.type) {
    case SchemaType::kObject: {
      if (!obj.is_object()) return;
      std::vector<std::string> drop;
      for (auto it = obj.begin(); it != obj.end(); ++it) {
        const Schema* child = s.Property(it.key());
        if (it.value().is_null()) {
          drop.push_back(it.key());
          continue;
        }
        if (!child) {
          if (!s.preserve_unknown) {
            out->push_back(Join(path, it.key()));
            drop.push_back(it.key());
          }
          continue;
        }
        FindUnknown(*child, it.value(), Join(path, it.key()), prune, out);
      }
      if (prune)
        for (const auto& k : drop) obj.erase(k);
      return;
    }
    case SchemaType::kArray:
      if (!obj.is_array() || !s.items) return;
      for (size_t i = 0; i < obj.size(); ++i)
        FindUnknown(*s.items, obj[i], path + "[" + std::to_string(i) + "]", prune, out);
      return;
    case SchemaType::kMap:
      if (!obj.is_object() || !s.items) return;
      for (auto it = obj.begin(); it != obj.end(); ++it)
        FindUnknown(*s.items, it.value(), path + "[" + it.key() + "]", prune, out);
      return;
    default:
      return;
  }
}

std::string_view TypeName(SchemaType t) {
  switch (t) {
    case SchemaType::kObject:
    case SchemaType::kMap:
      return "object";
    case SchemaType::kArray:
      return "array";
    case SchemaType::kString:
      return "string";
    case SchemaType::kInteger:
      return "integer";
    case SchemaType::kNumber:
      return "number";
    case SchemaType::kBoolean:
      return "boolean";
    case SchemaType::kIntOrString:
      return "integer or string";
    case SchemaType::kAny:
      return "any";
  }
  return "any";
}

bool TypeMatches(SchemaType t, const Json& v) {
  switch (t) {
    case SchemaType::kObject:
    case SchemaType::kMap:
      return v.is_object();
    case SchemaType::kArray:
      return v.is_array();
    case SchemaType::kString:
      return v.is_string();
    case SchemaType::kInteger:
      return v.is_number_integer();
    case SchemaType::kNumber:
      return v.is_number();
    case SchemaType::kBoolean:
      return v.is_boolean();
    case SchemaType::kIntOrString:
      return v.is_number_integer() || v.is_string();
    case SchemaType::kAny:
      return true;
  }
  return true;
}

void Validate(const Schema& s, const Json& v, const std::string& path, FieldErrors* out) {
  if (v.is_null()) return;
  if (!TypeMatches(s.type, v)) {
    out->push_back({FieldErrorType::kTypeInvalid, path, v,
                    path + " in body must be of type " + std::string(TypeName(s.type)) + ": " +
                        DumpJson(v.is_string() ? v : Json(std::string(v.type_name())))});
    return;
  }
  if (!s.enum_values.empty() && v.is_string() &&
      std::find(s.enum_values.begin(), s.enum_values.end(), v.get<std::string>()) ==
          s.enum_values.end()) {
    std::string supported = "supported values: ";
    for (size_t i = 0; i < s.enum_values.size(); ++i)
      supported += (i ? ", \"" : "\"") + s.enum_values[i] + "\"";
    out->push_back({FieldErrorType::kNotSupported, path, v, supported});
  }
  if (v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    if (s.minimum && n < *s.minimum)
      out->push_back({FieldErrorType::kInvalid, path, v,
                      "must be greater than or equal to " + std::to_string(*s.minimum)});
    if (s.maximum && n > *s.maximum)
      out->push_back({FieldErrorType::kInvalid, path, v,
                      "must be less than or equal to " + std::to_string(*s.maximum)});
  }
  if (s.format == "date-time" && v.is_string() && !ParseRfc3339(v.get<std::string>()))
    out->push_back({FieldErrorType::kInvalid, path, v, "must be an RFC 3339 date-time"});
  switch (s.type) {
    case SchemaType::kObject:
      for (const auto& r : s.required) {
        auto it = v.find(r);
        if (it == v.end() || it->is_null())
          out->push_back({FieldErrorType::kRequired, Join(path, r), nullptr, ""});
      }
      for (const auto& [name, child] : s.properties) {
        auto it = v.find(name);
        if (it != v.end()) Validate(*child, *it, Join(path, name), out);
      }
      break;
    case SchemaType::kArray:
      if (s.items)
        for (size_t i = 0; i < v.size(); ++i)
          Validate(*s.items, v[i], path + "[" + std::to_string(i) + "]", out);
      break;
    case SchemaType::kMap:
      if (s.items)
        for (auto it = v.begin(); it != v.end(); ++it)
          Validate(*s.items, it.value(), path + "[" + it.key() + "]", out);
      break;
    default:
      break;
  }
}

}  // namespace

std::vector<std::string> FindUnknownFields(const Schema& schema, Json& obj, bool prune) {
  std::vector<std::string> out;
  FindUnknown(schema, obj, "", prune, &out);
  return out;
}

FieldErrors ValidateSchema(const Schema& schema, const Json& obj, const std::string& path) {
  FieldErrors out;
  Validate(schema, obj, path, &out);
  return out;
}

void ApplySchemaDefaults(const Schema& s, Json& obj) {
  switch (s.type) {
    case SchemaType::kObject:
      if (!obj.is_object()) return;
      for (const auto& [name, child] : s.properties) {
        auto it = obj.find(name);
        if ((it == obj.end() || it->is_null()) && child->default_value) {
          obj[name] = *child->default_value;
          it = obj.find(name);
        }
        if (it != obj.end()) ApplySchemaDefaults(*child, *it);
      }
      return;
    case SchemaType::kArray:
      if (!obj.is_array() || !s.items) return;
      for (auto& e : obj) ApplySchemaDefaults(*s.items, e);
      return;
    case SchemaType::kMap:
      if (!obj.is_object() || !s.items) return;
      for (auto& [k, v] : obj.items()) ApplySchemaDefaults(*s.items, v);
      return;
    default:
      return;
  }
}

Json ToOpenApi(const Schema& s) {
  Json out = Json::object();
  if (!s.description.empty()) out["description"] = s.description;
  switch (s.type) {
    case SchemaType::kObject: {
      out["type"] = "object";
      Json props = Json::object();
      for (const auto& [name, child] : s.properties) props[name] = ToOpenApi(*child);
      if (!props.empty()) out["properties"] = std::move(props);
      if (!s.required.empty()) out["required"] = s.required;
      if (s.preserve_unknown) out["x-kubernetes-preserve-unknown-fields"] = true;
      break;
    }
    case SchemaType::kArray:
      out["type"] = "array";
      out["items"] = s.items ? ToOpenApi(*s.items) : Json::object();
      if (!s.patch_merge_key.empty()) {
        out["x-kubernetes-patch-merge-key"] = s.patch_merge_key;
        out["x-kubernetes-patch-strategy"] = "merge";
      } else if (s.patch_merge_primitives) {
        out["x-kubernetes-patch-strategy"] = "merge";
      }
      break;
    case SchemaType::kMap:
      out["type"] = "object";
      out["additionalProperties"] = s.items ? ToOpenApi(*s.items) : Json::object();
      break;
    case SchemaType::kString:
      out["type"] = "string";
      break;
    case SchemaType::kInteger:
      out["type"] = "integer";
      out["format"] = "int64";
      break;
    case SchemaType::kNumber:
      out["type"] = "number";
      break;
    case SchemaType::kBoolean:
      out["type"] = "boolean";
      break;
    case SchemaType::kIntOrString:
      out["x-kubernetes-int-or-string"] = true;
      break;
    case SchemaType::kAny:
      out["x-kubernetes-preserve-unknown-fields"] = true;
      break;
  }
  if (!s.format.empty()) out["format"] = s.format;
  if (!s.enum_values.empty()) out["enum"] = s.enum_values;
  if (s.minimum) out["minimum"] = *s.minimum;
  if (s.maximum) out["maximum"] = *s.maximum;
  if (s.default_value) out["default"] = *s.default_value;
  return out;
}

}  // namespace asb::api
