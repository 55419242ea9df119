#include "controller/sandbox_volumes.h"

#include <map>
#include <set>

#include "api/storage.h"
#include "controller/object_util.h"
#include "controller/store_ops.h"

namespace asb::controller {

namespace {

std::string PodNameOf(const Json& sandbox) {
  return Annotation(sandbox, kAnnotationPodName).value_or(Name(sandbox));
}

const Json* Templates(const Json& obj) {
  const Json* v = Find(obj, "spec.volumeClaimTemplates");
  return v && v->is_array() ? v : nullptr;
}

// Kubernetes' WaitForFirstConsumer: the claim's class provisions it only once a pod that uses
// it is bound to a node (asbd node's provisioner, storage/provisioner.h), so the pod must not
// wait for it. The claim's class, or the default class when it names none.
Result<bool> WaitsForConsumer(store::Store& store, const Json& claim) {
  std::string class_name = GetString(claim, "spec.storageClassName");
  if (class_name.empty()) {
    auto classes = store.List(api::StorageClassResource(), "", store::ListOptions{});
    if (!classes) return tl::unexpected(classes.error());
    for (const auto& c : classes->items)
      if (api::IsDefaultClass(c)) class_name = Name(c);
    if (class_name.empty()) return false;
  }
  ASB_ASSIGN_OR_RETURN(std::optional<store::Object> sc,
                       GetIfExists(store, api::StorageClassResource(), "", class_name));
  return sc && GetString(*sc, "volumeBindingMode") == "WaitForFirstConsumer";
}

}  // namespace

std::string ClaimNameFor(const Json& sandbox, const std::string& template_name) {
  return template_name + "-" + PodNameOf(sandbox);
}

std::vector<Json> BuildClaims(const Json& sandbox) {
  std::vector<Json> out;
  const Json* vcts = Templates(sandbox);
  if (!vcts) return out;
  for (const Json& vct : *vcts) {
    std::map<std::string, std::string> labels = StringMap(Find(vct, "metadata.labels"));
    labels[std::string(kLabelSandboxNameHash)] = NameHash(PodNameOf(sandbox));
    Json meta = {
        {"name", ClaimNameFor(sandbox, GetString(vct, "metadata.name"))},
        {"namespace", Namespace(sandbox)},
        {"labels", MapToJson(labels)},
        {"ownerReferences", Json::array({MakeControllerRef(api::SandboxResource(), sandbox)})}};
    if (const Json* a = Find(vct, "metadata.annotations"); a && a->is_object() && !a->empty())
      meta["annotations"] = *a;
    out.push_back({{"apiVersion", "v1"},
                   {"kind", "PersistentVolumeClaim"},
                   {"metadata", meta},
                   {"spec", vct.value("spec", Json::object())}});
  }
  return out;
}

void AddClaimVolumes(const Json& sandbox, Json& pod_spec) {
  const Json* vcts = Templates(sandbox);
  if (!vcts || vcts->empty()) return;
  std::set<std::string> names;
  Json volumes = Json::array();
  for (const Json& vct : *vcts) {
    std::string name = GetString(vct, "metadata.name");
    names.insert(name);
    volumes.push_back(
        {{"name", name}, {"persistentVolumeClaim", {{"claimName", ClaimNameFor(sandbox, name)}}}});
  }
  Json kept = Json::array();
  if (auto it = pod_spec.find("volumes"); it != pod_spec.end() && it->is_array())
    for (const Json& v : *it)
      if (!names.count(GetString(v, "name"))) kept.push_back(v);
  for (Json& v : volumes) kept.push_back(std::move(v));
  pod_spec["volumes"] = std::move(kept);
}

Result<std::string> EnsureClaims(store::Store& store, const Json& sandbox) {
  const api::ResourceInfo& res = api::PersistentVolumeClaimResource();
  std::string waiting;
  for (Json& desired : BuildClaims(sandbox)) {
    const std::string name = Name(desired);
    ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pvc,
                         GetIfExists(store, res, Namespace(sandbox), name));
    if (!pvc) {
      auto created = store.Create(res, desired);
      if (!created && created.error().code != Code::kAlreadyExists)
        return tl::unexpected(created.error().Wrap("create PersistentVolumeClaim " + name));
      ASB_ASSIGN_OR_RETURN(bool later, WaitsForConsumer(store, desired));
      if (waiting.empty() && !later) waiting = "PersistentVolumeClaim " + name + " is Pending";
      continue;
    }
    if (!IsControlledBy(*pvc, sandbox)) {
      auto ref = ControllerRef(*pvc);
      // Another Sandbox's: a warm member whose claims just moved to the claim's Sandbox (the
      // member is being deleted), or a name clash. Not this sandbox's to fix: it waits.
      if (ref && ref->kind == "Sandbox") {
        if (waiting.empty())
          waiting = "PersistentVolumeClaim " + name + " belongs to Sandbox " + ref->name;
        continue;
      }
      if (ref)
        return MakeError(Code::kFailedPrecondition, "PersistentVolumeClaim \"" + name +
                                                        "\" is owned by " + ref->kind + "/" +
                                                        ref->name + ", not by this sandbox");
      // Unowned: adopted only when it carries this sandbox's tracking label (upstream).
      if (Label(*pvc, kLabelSandboxNameHash).value_or("") != NameHash(PodNameOf(sandbox)))
        return MakeError(Code::kFailedPrecondition,
                         "cannot adopt unowned PersistentVolumeClaim \"" + name +
                             "\": it lacks the sandbox's tracking label " +
                             std::string(kLabelSandboxNameHash));
      Json adopted = *pvc;
      SetControllerRef(adopted, MakeControllerRef(api::SandboxResource(), sandbox));
      auto r = store.Update(res, adopted);
      if (!r) return tl::unexpected(r.error().Wrap("adopt PersistentVolumeClaim " + name));
      pvc = std::move(*r);
    }
    std::string phase = GetString(*pvc, "status.phase", "Pending");
    if (phase != "Bound" && waiting.empty()) {
      bool later = false;
      if (phase == "Pending") {
        ASB_ASSIGN_OR_RETURN(later, WaitsForConsumer(store, *pvc));
      }
      if (!later) waiting = "PersistentVolumeClaim " + name + " is " + phase;
    }
  }
  return waiting;
}

Status MoveClaims(store::Store& store, const Json& from, const Json& to) {
  const api::ResourceInfo& res = api::PersistentVolumeClaimResource();
  const Json* vcts = Templates(from);
  if (!vcts) return OkStatus();
  for (const Json& vct : *vcts) {
    const std::string name = ClaimNameFor(from, GetString(vct, "metadata.name"));
    for (int attempt = 0; attempt < 8; ++attempt) {
      ASB_ASSIGN_OR_RETURN(std::optional<store::Object> pvc,
                           GetIfExists(store, res, Namespace(from), name));
      if (!pvc || !IsControlledBy(*pvc, from)) break;
      Json next = *pvc;
      SetControllerRef(next, MakeControllerRef(api::SandboxResource(), to));
      auto r = store.Update(res, next);
      if (r) break;
      if (r.error().code != Code::kAborted)
        return tl::unexpected(r.error().Wrap("move PersistentVolumeClaim " + name));
    }
  }
  return OkStatus();
}

Status MoveClaims(store::Txn& txn, const Json& from, const Json& to) {
  const api::ResourceInfo& res = api::PersistentVolumeClaimResource();
  const Json* vcts = Templates(from);
  if (!vcts) return OkStatus();
  for (const Json& vct : *vcts) {
    const std::string name = ClaimNameFor(from, GetString(vct, "metadata.name"));
    auto pvc = txn.Get(res, Namespace(from), name);
    if (!pvc && pvc.error().code == Code::kNotFound) continue;
    if (!pvc) return tl::unexpected(pvc.error());
    if (!IsControlledBy(*pvc, from)) continue;
    SetControllerRef(*pvc, MakeControllerRef(api::SandboxResource(), to));
    auto r = txn.Update(res, *pvc);
    if (!r) return tl::unexpected(r.error().Wrap("move PersistentVolumeClaim " + name));
  }
  return OkStatus();
}

std::string MergeClaimVolumeTemplates(Json& sandbox, const Json& claim, const Json& tmpl) {
  const Json* extra = Templates(claim);
  if (!extra || extra->empty()) return "";
  std::string policy = GetString(tmpl, "spec.volumeClaimTemplatesPolicy", "Disallowed");
  if (policy != "Allowed" && policy != "Overrides")
    return "SandboxTemplate \"" + Name(tmpl) +
           "\" does not allow volumeClaimTemplates on claims (volumeClaimTemplatesPolicy " +
           policy + ")";
  Json merged = Json::array();
  if (const Json* base = Templates(tmpl)) merged = *base;
  for (const Json& vct : *extra) {
    std::string name = GetString(vct, "metadata.name");
    bool replaced = false;
    for (Json& have : merged) {
      if (GetString(have, "metadata.name") != name) continue;
      if (policy == "Allowed")
        return "volumeClaimTemplate \"" + name +
               "\" is set by the template; volumeClaimTemplatesPolicy Allowed adds new names "
               "only";
      have = vct;
      replaced = true;
    }
    if (!replaced) merged.push_back(vct);
  }
  sandbox["spec"]["volumeClaimTemplates"] = std::move(merged);
  return "";
}

}  // namespace asb::controller
