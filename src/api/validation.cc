#include "api/validation.h"

#include <cctype>
#include <set>
#include <string>

#include "api/schema.h"

namespace asb::api {

namespace {

constexpr std::string_view kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr std::string_view kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 chars.
bool IsLabelName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s)
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

void ValidateStringMap(const Json& meta, const char* key, bool labels, FieldErrors* out) {
  auto it = meta.find(key);
  if (it == meta.end() || !it->is_object()) return;
  std::string path = std::string("metadata.") + key;
  for (auto kv = it->begin(); kv != it->end(); ++kv) {
    if (!IsQualifiedName(kv.key()))
      out->push_back({FieldErrorType::kInvalid, path, kv.key(),
                      "name part must consist of alphanumeric characters, '-', '_' or '.', and "
                      "must start and end with an alphanumeric character (an optional prefix "
                      "must be a DNS subdomain)"});
    if (labels && kv.value().is_string() && !IsLabelValue(kv.value().get<std::string>()))
      out->push_back({FieldErrorType::kInvalid, path, kv.value(),
                      "a valid label must be an empty string or consist of alphanumeric "
                      "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                      "character (at most 63 characters)"});
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
    if (label ? !IsDns1123Label(name) : !IsDns1123Subdomain(name))
      out->push_back({FieldErrorType::kInvalid, "metadata.name", name,
                      std::string(label ? kLabelMsg : kSubdomainMsg)});
  } else {
    // generateName gets a 5-char suffix; the prefix alone must be valid when a suffix follows.
    std::string probe = generate + "x";
    if (label ? !IsDns1123Label(probe) : !IsDns1123Subdomain(probe))
      out->push_back({FieldErrorType::kInvalid, "metadata.generateName", generate,
                      std::string(label ? kLabelMsg : kSubdomainMsg)});
  }
  if (res.namespaced) {
    std::string ns = GetString(*meta, "namespace");
    if (!ns.empty() && !IsDns1123Label(ns))
      out->push_back({FieldErrorType::kInvalid, "metadata.namespace", ns, std::string(kLabelMsg)});
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
      } else if (!IsDns1123Label(name)) {
        out->push_back({FieldErrorType::kInvalid, cpath + ".name", name, std::string(kLabelMsg)});
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

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s)
    if (!IsLowerAlnum(c) && c != '-') return false;
  return true;
}

bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (part.empty() || !IsLowerAlnum(part.front()) || !IsLowerAlnum(part.back())) return false;
    for (char c : part)
      if (!IsLowerAlnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsQualifiedName(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return IsLabelName(s);
  std::string_view prefix = s.substr(0, slash);
  std::string_view name = s.substr(slash + 1);
  return IsDns1123Subdomain(prefix) && IsLabelName(name);
}

bool IsLabelValue(std::string_view s) { return s.empty() || IsLabelName(s); }

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
