#include "api/validation.h"

#include <cctype>
#include <set>
#include <string>

#include "api/schema.h"
#include "base/k8s_names.h"

namespace asb::api {

namespace {

void ValidateStringMap(const Json& meta, const char* key, bool labels, FieldErrors* out) {
  auto it = meta.find(key);
  if (it == meta.end() || !it->is_object()) return;
  std::string path = std::string("metadata.") + key;
  for (auto kv = it->begin(); kv != it->end(); ++kv) {
    if (std::string why = CheckQualifiedName(kv.key()); !why.empty())
      out->push_back({FieldErrorType::kInvalid, path, kv.key(), why});
    if (!labels || !kv.value().is_string()) continue;
    if (std::string why = CheckLabelValue(kv.value().get<std::string>()); !why.empty())
      out->push_back({FieldErrorType::kInvalid, path, kv.value(), why});
  }
}

void ValidateMeta(const ResourceInfo& res, const Json& obj, FieldErrors* out) {
  const Json* meta = Find(obj, "metadata");
  if (!meta || !meta->is_object()) {
    out->push_back(
        {FieldErrorType::kRequired, "metadata.name", nullptr, "name or generateName is required"});
    return;
  }
  std::string name = GetString(*meta, "name");
  std::string generate = GetString(*meta, "generateName");
  // Sandbox names become the pod's hostname and the Service name, so they must be labels.
  bool label = res.kind == "Namespace" || res.kind == "Sandbox" || res.kind == "Service";
  if (name.empty() && generate.empty()) {
    out->push_back(
        {FieldErrorType::kRequired, "metadata.name", nullptr, "name or generateName is required"});
  } else if (!name.empty()) {
    if (std::string why = label ? CheckDns1123Label(name) : CheckDns1123Subdomain(name);
        !why.empty())
      out->push_back({FieldErrorType::kInvalid, "metadata.name", name, why});
  } else {
    // generateName gets a 5-char suffix; the prefix alone must be valid when a suffix follows.
    std::string probe = generate + "x";
    if (std::string why = label ? CheckDns1123Label(probe) : CheckDns1123Subdomain(probe);
        !why.empty())
      out->push_back({FieldErrorType::kInvalid, "metadata.generateName", generate, why});
  }
  if (res.namespaced) {
    std::string ns = GetString(*meta, "namespace");
    if (std::string why = CheckDns1123Label(ns); !ns.empty() && !why.empty())
      out->push_back({FieldErrorType::kInvalid, "metadata.namespace", ns, why});
  }
  ValidateStringMap(*meta, "labels", true, out);
  ValidateStringMap(*meta, "annotations", false, out);
}

// Pod-level rules shared by Pods and pod templates: containers present, names unique DNS
// labels, images set, ports in range.
void ValidatePodSpec(const Json& spec, const std::string& path, FieldErrors* out) {
  if (!spec.is_object()) return;
  auto containers = spec.find("containers");
  if (containers == spec.end() || !containers->is_array() || containers->empty()) {
    if (containers == spec.end() || containers->is_array() || containers->is_null())
      out->push_back({FieldErrorType::kRequired, path + ".containers", nullptr, ""});
    return;
  }
  std::set<std::string> names;
  for (const char* list : {"initContainers", "containers"}) {
    auto it = spec.find(list);
    if (it == spec.end() || !it->is_array()) continue;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& c = (*it)[i];
      if (!c.is_object()) continue;
      std::string cpath = path + "." + list + "[" + std::to_string(i) + "]";
      std::string name = GetString(c, "name");
      if (name.empty()) {
        if (c.contains("name") && c["name"].is_string())
          out->push_back({FieldErrorType::kRequired, cpath + ".name", nullptr, ""});
      } else if (std::string why = CheckDns1123Label(name); !why.empty()) {
        out->push_back({FieldErrorType::kInvalid, cpath + ".name", name, why});
      } else if (!names.insert(name).second) {
        out->push_back({FieldErrorType::kDuplicate, cpath + ".name", name, ""});
      }
      if (GetString(c, "image").empty())
        out->push_back({FieldErrorType::kRequired, cpath + ".image", nullptr, ""});
      if (auto ports = c.find("ports"); ports != c.end() && ports->is_array()) {
        for (size_t p = 0; p < ports->size(); ++p) {
          const Json* port = Find((*ports)[p], "containerPort");
          if (port && port->is_number_integer() &&
              (port->get<int64_t>() < 1 || port->get<int64_t>() > 65535))
            out->push_back({FieldErrorType::kInvalid,
                            cpath + ".ports[" + std::to_string(p) + "].containerPort", *port,
                            "must be between 1 and 65535, inclusive"});
        }
      }
    }
  }
}

}  // namespace

void ApplyDefaults(const ResourceInfo& res, Json& obj) {
  if (!obj.is_object()) return;
  ApplySchemaDefaults(KindSchema(res), obj);
}

FieldErrors ValidateObject(const ResourceInfo& res, const Json& obj) {
  FieldErrors out;
  ValidateMeta(res, obj, &out);
  FieldErrors structural = ValidateSchema(KindSchema(res), obj);
  out.insert(out.end(), structural.begin(), structural.end());
  if (const Json* spec = Find(obj, "spec")) {
    if (res.kind == "Pod") {
      ValidatePodSpec(*spec, "spec", &out);
    } else if (res.kind == "Sandbox" || res.kind == "SandboxTemplate") {
      if (const Json* pod = Find(*spec, "podTemplate.spec"))
        ValidatePodSpec(*pod, "spec.podTemplate.spec", &out);
    }
  } else if (res.kind != "Namespace" && res.kind != "Event" && res.kind != "ServiceAccount" &&
             res.group != "rbac.authorization.k8s.io") {  // kinds without a spec
    out.push_back({FieldErrorType::kRequired, "spec", nullptr, ""});
  }
  // Structural and semantic checks can both flag "Required" on the same path: report it once.
  FieldErrors dedup;
  std::set<std::string> seen;
  for (auto& e : out)
    if (seen.insert(e.ToString()).second) dedup.push_back(std::move(e));
  return dedup;
}

}  // namespace asb::api
