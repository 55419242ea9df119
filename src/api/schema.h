// A small schema tree per served kind, described once and used for four things:
//   1. strict decoding: which fields are known (unknown ones are reported or pruned),
//   2. structural validation: types, enums, bounds, required fields (422 field errors),
//   3. defaulting (CRD-style: a default applies when the parent object exists),
//   4. the OpenAPI v3 documents the API server publishes (kubectl explain, apply validation),
// plus the strategic-merge-patch metadata (list merge keys) for api/patch.h.
//
// PodSpec is described loosely: every top-level PodSpec field is known, containers are described
// field by field, deeper structures (affinity, securityContext, volumes...) are "any".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/field_error.h"
#include "api/resource.h"
#include "base/json_util.h"

namespace asb::api {

enum class SchemaType {
  kObject,
  kArray,
  kMap,
  kString,
  kInteger,
  kNumber,
  kBoolean,
  kIntOrString,
  kAny
};

struct Schema;
using SchemaPtr = std::shared_ptr<const Schema>;

struct Schema {
  SchemaType type = SchemaType::kAny;
  std::string description;
  std::vector<std::pair<std::string, SchemaPtr>> properties;  // kObject
  std::vector<std::string> required;                          // kObject
  bool preserve_unknown = false;  // kObject: fields not listed are accepted and kept
  SchemaPtr items;                // kArray: element schema; kMap: value schema
  std::vector<std::string> enum_values;
  std::optional<int64_t> minimum;
  std::optional<int64_t> maximum;
  std::string format;  // "date-time"
  std::optional<Json> default_value;
  std::string patch_merge_key;          // kArray of objects: strategic merge by this key
  bool patch_merge_primitives = false;  // kArray of scalars: strategic merge is a set union

  // nullptr when `name` is not a declared property.
  const Schema* Property(std::string_view name) const;
};

// Fluent builder; converts to SchemaPtr.
class SchemaBuilder {
 public:
  explicit SchemaBuilder(SchemaType type) : s_(std::make_shared<Schema>()) { s_->type = type; }
  SchemaBuilder& Describe(std::string d) {
    s_->description = std::move(d);
    return *this;
  }
  SchemaBuilder& Required(std::initializer_list<std::string> names) {
    s_->required.insert(s_->required.end(), names);
    return *this;
  }
  SchemaBuilder& PreserveUnknown() {
    s_->preserve_unknown = true;
    return *this;
  }
  SchemaBuilder& Enum(std::initializer_list<std::string> values) {
    s_->enum_values = values;
    return *this;
  }
  SchemaBuilder& Min(int64_t v) {
    s_->minimum = v;
    return *this;
  }
  SchemaBuilder& Max(int64_t v) {
    s_->maximum = v;
    return *this;
  }
  SchemaBuilder& Format(std::string f) {
    s_->format = std::move(f);
    return *this;
  }
  SchemaBuilder& Default(Json v) {
    s_->default_value = std::move(v);
    return *this;
  }
  SchemaBuilder& MergeKey(std::string key) {
    s_->patch_merge_key = std::move(key);
    return *this;
  }
  SchemaBuilder& MergePrimitives() {
    s_->patch_merge_primitives = true;
    return *this;
  }
  operator SchemaPtr() const { return s_; }  // NOLINT: intentional implicit conversion
  Schema& raw() { return *s_; }

 private:
  std::shared_ptr<Schema> s_;
};

SchemaBuilder Obj(std::initializer_list<std::pair<std::string, SchemaPtr>> props);
SchemaBuilder Arr(SchemaPtr items);
SchemaBuilder MapOf(SchemaPtr values);
inline SchemaBuilder Str() { return SchemaBuilder(SchemaType::kString); }
inline SchemaBuilder Int() { return SchemaBuilder(SchemaType::kInteger); }
inline SchemaBuilder Num() { return SchemaBuilder(SchemaType::kNumber); }
inline SchemaBuilder Bool() { return SchemaBuilder(SchemaType::kBoolean); }
inline SchemaBuilder IntOrStr() { return SchemaBuilder(SchemaType::kIntOrString); }
inline SchemaBuilder Any() { return SchemaBuilder(SchemaType::kAny); }

// The root schema of a served kind (apiVersion, kind, metadata, spec, status, ...).
// Never null for kinds in AllResources(); a permissive schema otherwise.
const Schema& KindSchema(const ResourceInfo& res);
// The shared ObjectMeta schema.
SchemaPtr ObjectMetaSchema();

// Reports fields not declared by the schema as Kubernetes paths ("spec.foo",
// "spec.podTemplate.spec.containers[0].bogus"), in document order. With prune, also removes
// them (and null-valued fields) from `obj`, as the API server stores only known fields.
std::vector<std::string> FindUnknownFields(const Schema& schema, Json& obj, bool prune);

// Checks types, enums, bounds, formats and required fields. `path` prefixes field paths
// ("" for a whole object). Null values count as absent.
FieldErrors ValidateSchema(const Schema& schema, const Json& obj, const std::string& path = "");

// Fills defaults: a property's default applies when its parent object exists and the property
// is absent. Idempotent.
void ApplySchemaDefaults(const Schema& schema, Json& obj);

// The OpenAPI v3 schema object for `schema` (type, properties, required, enum, minimum, ...).
Json ToOpenApi(const Schema& schema);

}  // namespace asb::api
