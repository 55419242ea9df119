#include "api/validation.h"

#include <set>
#include <string>

#include "api/limits.h"
#include "api/network_policy_validation.h"
#include "api/pod_validation.h"
#include "api/schema.h"
#include "api/secret.h"
#include "api/storage.h"
#include "base/k8s_names.h"
#include "base/strings.h"

namespace asb::api {

namespace {

// Kubernetes' name rule for each kind: Namespaces are RFC 1123 labels, Services RFC 1035
// labels; Pods, Events and custom resources (upstream's CRDs add no rule of their own) are
// RFC 1123 subdomains.
std::vector<std::string> NameErrors(const ResourceInfo& res, std::string_view name) {
  if (res.group.empty() && res.kind == "Namespace") return Dns1123LabelErrors(name);
  if (res.group.empty() && res.kind == "Service") return Dns1035LabelErrors(name);
  return Dns1123SubdomainErrors(name);
}

// Kubernetes' maskTrailingDash: a generateName prefix may end in '-' (the suffix follows).
std::string MaskTrailingDash(std::string name) {
  if (name.size() > 1 && name.back() == '-') name = name.substr(0, name.size() - 2) + "a";
  return name;
}

void ValidateLabels(const Json& labels, FieldErrors* out) {
  if (!labels.is_object()) return;
  for (auto kv = labels.begin(); kv != labels.end(); ++kv) {
    for (auto& msg : QualifiedNameErrors(kv.key()))
      out->push_back({FieldErrorType::kInvalid, "metadata.labels", kv.key(), std::move(msg)});
    if (!kv.value().is_string()) continue;
    for (auto& msg : LabelValueErrors(kv.value().get<std::string>()))
      out->push_back({FieldErrorType::kInvalid, "metadata.labels", kv.value(), std::move(msg)});
  }
}

void ValidateAnnotations(const Json& annotations, FieldErrors* out) {
  if (!annotations.is_object()) return;
  size_t total = 0;
  for (auto kv = annotations.begin(); kv != annotations.end(); ++kv) {
    // Kubernetes checks annotation keys lower-cased: upper case is allowed in the prefix.
    for (auto& msg : QualifiedNameErrors(ToLower(kv.key())))
      out->push_back({FieldErrorType::kInvalid, "metadata.annotations", kv.key(), std::move(msg)});
    total += kv.key().size();
    if (kv.value().is_string()) total += kv.value().get_ref<const std::string&>().size();
  }
  if (total > kMaxAnnotationsBytes)
    out->push_back({FieldErrorType::kTooLong, "metadata.annotations", nullptr,
                    "may not be more than " + std::to_string(kMaxAnnotationsBytes) + " bytes"});
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
  if (!generate.empty())
    for (auto& msg : NameErrors(res, MaskTrailingDash(generate)))
      out->push_back({FieldErrorType::kInvalid, "metadata.generateName", generate, std::move(msg)});
  if (name.empty() && generate.empty()) {
    out->push_back(
        {FieldErrorType::kRequired, "metadata.name", nullptr, "name or generateName is required"});
  } else if (!name.empty()) {
    for (auto& msg : NameErrors(res, name))
      out->push_back({FieldErrorType::kInvalid, "metadata.name", name, std::move(msg)});
  }
  if (res.namespaced) {
    std::string ns = GetString(*meta, "namespace");
    if (!ns.empty())
      for (auto& msg : Dns1123LabelErrors(ns))
        out->push_back({FieldErrorType::kInvalid, "metadata.namespace", ns, std::move(msg)});
  }
  if (auto it = meta->find("labels"); it != meta->end()) ValidateLabels(*it, out);
  if (auto it = meta->find("annotations"); it != meta->end()) ValidateAnnotations(*it, out);
}

}  // namespace

void ApplyDefaults(const ResourceInfo& res, Json& obj) {
  if (!obj.is_object()) return;
  if (res.group.empty() && res.kind == "Secret") MergeStringData(obj);
  ApplySchemaDefaults(KindSchema(res), obj);
}

FieldErrors ValidateObject(const ResourceInfo& res, const Json& obj) {
  FieldErrors out;
  ValidateMeta(res, obj, &out);
  FieldErrors structural = ValidateSchema(KindSchema(res), obj);
  out.insert(out.end(), structural.begin(), structural.end());
  if (const Json* spec = Find(obj, "spec")) {
    if (res.kind == "Pod") {
      ValidatePodSpec(*spec, "spec", QuantityStyle::kCore, &out);
    } else if (res.kind == "Sandbox" || res.kind == "SandboxTemplate") {
      if (const Json* pod = Find(*spec, "podTemplate.spec"))
        ValidatePodSpec(*pod, "spec.podTemplate.spec", QuantityStyle::kCustomResource, &out);
    }
    if (res.kind == "SandboxTemplate")
      if (const Json* policy = Find(*spec, "networkPolicy")) ValidateNetworkPolicy(*policy, &out);
    if (IsAgentsKind(res))
      if (const Json* vcts = Find(*spec, "volumeClaimTemplates"))
        ValidateVolumeClaimTemplates(*vcts, "spec.volumeClaimTemplates", &out);
    ValidateStorageObject(res, obj, &out);
  } else if (res.kind == "StorageClass") {
    ValidateStorageObject(res, obj, &out);
  } else if (res.group.empty() && res.kind == "Secret") {
    ValidateSecret(obj, &out);
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

FieldErrors ValidateUpdate(const ResourceInfo& res, const Json& old_obj, const Json& new_obj) {
  if (res.group.empty() && res.kind == "Pod") return ValidatePodUpdate(old_obj, new_obj);
  if (res.group.empty() && res.kind == "Secret") return ValidateSecretUpdate(old_obj, new_obj);
  return {};
}

FieldErrors ValidateStatusUpdate(const ResourceInfo& res, const Json& old_obj,
                                 const Json& new_obj) {
  FieldErrors errors;
  if (res.kind != "SandboxClaim") return errors;
  const Json* old_startup = Find(old_obj, "status.startup");
  if (!old_startup || !old_startup->is_object()) return errors;
  const Json* new_startup = Find(new_obj, "status.startup");
  for (const auto& [field, value] : old_startup->items()) {
    const Json* now = new_startup && new_startup->is_object() && new_startup->contains(field)
                          ? &(*new_startup)[field]
                          : nullptr;
    if (now && *now == value) continue;
    errors.push_back({FieldErrorType::kInvalid, "status.startup." + field,
                      now ? *now : Json(nullptr), "field is immutable once set"});
  }
  return errors;
}

}  // namespace asb::api
