#include "api/storage.h"

#include <set>

#include "api/quantity.h"
#include "api/schema_parts.h"
#include "base/k8s_names.h"

namespace asb::api {

namespace {

using schema_parts::Root;
using schema_parts::StrMap;

// Kubernetes' access modes and kubectl's short forms for them.
constexpr std::pair<std::string_view, std::string_view> kAccessModes[] = {
    {"ReadWriteOnce", "RWO"},
    {"ReadOnlyMany", "ROX"},
    {"ReadWriteMany", "RWX"},
    {"ReadWriteOncePod", "RWOP"}};

SchemaPtr AccessModes() {
  return Arr(Str().Enum({"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}))
      .MergePrimitives();
}

SchemaPtr ObjectRef() {
  return Obj({{"apiVersion", Str()},
              {"kind", Str()},
              {"namespace", Str()},
              {"name", Str()},
              {"uid", Str()},
              {"resourceVersion", Str()},
              {"fieldPath", Str()}});
}

}  // namespace

SchemaPtr PersistentVolumeClaimSpecSchema() {
  return Obj({{"accessModes", AccessModes()},
              {"resources", Obj({{"requests", MapOf(IntOrStr())}, {"limits", MapOf(IntOrStr())}})
                                .Describe("requests.storage: the size of the volume")},
              {"storageClassName",
               Str().Describe("The StorageClass; unset: the default class (asb-local)")},
              {"volumeName", Str().Describe("The PersistentVolume bound to this claim")},
              {"volumeMode", Str().Enum({"Filesystem", "Block"})},
              {"selector", Any()},
              {"dataSource", Any()},
              {"dataSourceRef", Any()},
              {"volumeAttributesClassName", Str()}});
}

SchemaPtr PersistentVolumeClaimSchema() {
  SchemaPtr status = Obj({{"phase", Str().Enum({"Pending", "Bound", "Lost"})},
                          {"accessModes", AccessModes()},
                          {"capacity", MapOf(IntOrStr())},
                          {"conditions", Arr(Any())},
                          {"allocatedResources", MapOf(IntOrStr())}})
                         .PreserveUnknown();
  return Root(PersistentVolumeClaimSpecSchema(), status);
}

SchemaPtr PersistentVolumeSchema() {
  SchemaPtr spec =
      Obj({{"capacity", MapOf(IntOrStr())},
           {"accessModes", AccessModes()},
           {"claimRef", ObjectRef()},
           {"persistentVolumeReclaimPolicy", Str().Enum({"Retain", "Delete", "Recycle"})},
           {"storageClassName", Str()},
           {"volumeMode", Str().Enum({"Filesystem", "Block"})},
           {"mountOptions", Arr(Str())},
           {"local", Obj({{"path", Str()}, {"fsType", Str()}})},
           {"hostPath", Obj({{"path", Str()}, {"type", Str()}})},
           {"nodeAffinity", Any()}})
          .PreserveUnknown();
  SchemaPtr status =
      Obj({{"phase", Str().Enum({"Pending", "Available", "Bound", "Released", "Failed"})},
           {"message", Str()},
           {"reason", Str()},
           {"lastPhaseTransitionTime", Any()}});
  return Root(spec, status);
}

SchemaPtr StorageClassSchema() {
  return Obj({{"apiVersion", Str()},
              {"kind", Str()},
              {"metadata", ObjectMetaSchema()},
              {"provisioner", Str().Describe("The provisioner; asbd serves asb.dev/local")},
              {"parameters", StrMap()},
              {"reclaimPolicy", Str().Enum({"Retain", "Delete"}).Default("Delete")},
              {"volumeBindingMode",
               Str().Enum({"Immediate", "WaitForFirstConsumer"}).Default("Immediate")},
              {"allowVolumeExpansion", Bool()},
              {"mountOptions", Arr(Str())},
              {"allowedTopologies", Arr(Any())}})
      .Required({"provisioner"});
}

int64_t RequestedStorageBytes(const Json& claim_spec) {
  const Json* q = Find(claim_spec, "resources.requests.storage");
  if (!q) return 0;
  std::string text = q->is_string() ? q->get<std::string>() : q->is_number() ? DumpJson(*q) : "";
  auto v = ParseQuantityValue(text);
  return v ? *v : 0;
}

void ValidateClaimSpec(const Json& spec, const std::string& path, FieldErrors* out) {
  const Json* modes = Find(spec, "accessModes");
  if (!modes || !modes->is_array() || modes->empty()) {
    out->push_back({FieldErrorType::kRequired, path + ".accessModes", nullptr,
                    "at least 1 access mode is required"});
  }
  const Json* q = Find(spec, "resources.requests.storage");
  if (!q) {
    out->push_back({FieldErrorType::kRequired, path + ".resources.requests.storage", nullptr,
                    "the size of the volume (e.g. \"1Gi\")"});
  } else {
    std::string text = q->is_string() ? q->get<std::string>() : q->is_number() ? DumpJson(*q) : "";
    QuantityProblem p = CheckQuantity(text, false);
    if (p != QuantityProblem::kNone) {
      out->push_back({FieldErrorType::kInvalid, path + ".resources.requests.storage", *q,
                      p == QuantityProblem::kSyntax
                          ? "quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                      : p == QuantityProblem::kNegative ? "must be greater than zero"
                                                        : "is too large"});
    } else if (RequestedStorageBytes(spec) <= 0) {
      out->push_back({FieldErrorType::kInvalid, path + ".resources.requests.storage", *q,
                      "must be greater than zero"});
    }
  }
  if (const Json* sc = Find(spec, "storageClassName");
      sc && sc->is_string() && !sc->get<std::string>().empty()) {
    for (auto& msg : Dns1123SubdomainErrors(sc->get<std::string>()))
      out->push_back({FieldErrorType::kInvalid, path + ".storageClassName", *sc, std::move(msg)});
  }
}

void ValidateVolumeClaimTemplates(const Json& vcts, const std::string& path, FieldErrors* out) {
  if (!vcts.is_array()) return;
  std::set<std::string> names;
  for (size_t i = 0; i < vcts.size(); ++i) {
    std::string at = path + "[" + std::to_string(i) + "]";
    std::string name = GetString(vcts[i], "metadata.name");
    if (name.empty()) {
      out->push_back({FieldErrorType::kRequired, at + ".metadata.name", nullptr, ""});
    } else {
      for (auto& msg : Dns1123LabelErrors(name))
        out->push_back({FieldErrorType::kInvalid, at + ".metadata.name", name, std::move(msg)});
      if (!names.insert(name).second)
        out->push_back({FieldErrorType::kDuplicate, at + ".metadata.name", name, ""});
    }
    const Json* spec = Find(vcts[i], "spec");
    if (!spec || !spec->is_object()) {
      out->push_back({FieldErrorType::kRequired, at + ".spec", nullptr, ""});
      continue;
    }
    ValidateClaimSpec(*spec, at + ".spec", out);
  }
}

void ValidateStorageObject(const ResourceInfo& res, const Json& obj, FieldErrors* out) {
  if (res.group.empty() && res.kind == "PersistentVolumeClaim") {
    if (const Json* spec = Find(obj, "spec"); spec && spec->is_object())
      ValidateClaimSpec(*spec, "spec", out);
  } else if (res.group == kStorageGroup && res.kind == "StorageClass") {
    if (GetString(obj, "provisioner").empty())
      out->push_back({FieldErrorType::kRequired, "provisioner", nullptr, ""});
  }
}

std::string AccessModesShort(const Json* modes) {
  std::string out;
  if (!modes || !modes->is_array()) return out;
  for (const Json& m : *modes) {
    if (!m.is_string()) continue;
    std::string_view s = m.get_ref<const std::string&>();
    for (const auto& [name, abbrev] : kAccessModes) {
      if (name != s) continue;
      if (!out.empty()) out += ",";
      out += abbrev;
    }
  }
  return out;
}

bool IsDefaultClass(const Json& storage_class) {
  const Json* a = Find(storage_class, "metadata.annotations");
  if (!a || !a->is_object()) return false;
  auto it = a->find(kDefaultClassAnnotation);
  return it != a->end() && it->is_string() && it->get<std::string>() == "true";
}

const ResourceInfo& PersistentVolumeClaimResource() {
  return *FindByKind("v1", "PersistentVolumeClaim");
}
const ResourceInfo& PersistentVolumeResource() { return *FindByKind("v1", "PersistentVolume"); }
const ResourceInfo& StorageClassResource() {
  return *FindByKind("storage.k8s.io/v1", "StorageClass");
}

}  // namespace asb::api
