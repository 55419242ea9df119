#include "controller/claim_plan.h"

#include <algorithm>

#include "api/resource.h"
#include "api/views.h"
#include "controller/claim_startup.h"
#include "controller/conditions.h"
#include "controller/object_util.h"

namespace asb::controller {

WarmPoolPolicy GetWarmPoolPolicy(const Json& claim) {
  switch (api::ClaimSourceOf(claim).warm) {
    case api::ClaimSource::Warm::kNone:
      return WarmPoolPolicy::kNone;
    case api::ClaimSource::Warm::kAnyPoolOfTemplate:
      return WarmPoolPolicy::kAny;
    case api::ClaimSource::Warm::kNamedPool:
      break;
  }
  return WarmPoolPolicy::kNamed;
}

std::string CandidateSelector(const Json& claim, const std::string& tmpl_name) {
  api::ClaimSource src = api::ClaimSourceOf(claim);
  std::string sel;
  if (!tmpl_name.empty())
    sel = std::string(kLabelTemplateRefHash) + "=" + NameHash(tmpl_name) + ",";
  if (src.warm == api::ClaimSource::Warm::kNamedPool)
    return sel + std::string(kLabelWarmPoolSandbox) + "=" + NameHash(src.pool);
  return sel + std::string(kLabelWarmPoolSandbox);
}

std::string CandidateSelector(const Json& claim) {
  return CandidateSelector(claim, api::ClaimSourceOf(claim).template_name);
}

bool NeedsColdStart(const Json& claim) {
  for (const char* f : {"spec.env", "spec.volumeClaimTemplates"}) {
    const Json* v = Find(claim, f);
    if (v && v->is_array() && !v->empty()) return true;
  }
  return false;
}

std::string InjectEnv(Json& sandbox, const Json& claim, const Json& tmpl) {
  const Json* env = Find(claim, "spec.env");
  if (!env || !env->is_array() || env->empty()) return "";
  std::string policy = GetString(tmpl, "spec.envVarsInjectionPolicy", "Disallowed");
  if (policy != "Allowed" && policy != "Overrides")
    return "SandboxTemplate \"" + Name(tmpl) +
           "\" does not allow environment variable injection (envVarsInjectionPolicy " + policy +
           ")";
  Json* containers = nullptr;
  if (sandbox.contains("spec") && sandbox["spec"].contains("podTemplate") &&
      sandbox["spec"]["podTemplate"].contains("spec"))
    containers = &sandbox["spec"]["podTemplate"]["spec"]["containers"];
  if (!containers || !containers->is_array() || containers->empty())
    return "the template's pod has no containers";
  for (const Json& var : *env) {
    std::string name = GetString(var, "name");
    std::string target = GetString(var, "containerName");
    Json* c = nullptr;
    for (Json& cand : *containers)
      if (target.empty() ? c == nullptr : GetString(cand, "name") == target) c = &cand;
    if (!c) return "container \"" + target + "\" not found in the template";
    Json& list = (*c)["env"];
    if (!list.is_array()) list = Json::array();
    Json entry = {{"name", name}, {"value", GetString(var, "value")}};
    bool replaced = false;
    for (Json& have : list) {
      if (GetString(have, "name") != name) continue;
      if (policy != "Overrides")
        return "environment variable \"" + name +
               "\" is set by the template; envVarsInjectionPolicy Allowed adds new names only";
      have = entry;
      replaced = true;
    }
    if (!replaced) list.push_back(entry);
  }
  return "";
}

std::vector<const Json*> OrderCandidates(const Json& claim, const std::vector<Json>& listed) {
  std::vector<const Json*> ptrs;
  ptrs.reserve(listed.size());
  for (const Json& sb : listed) ptrs.push_back(&sb);
  return OrderCandidates(claim, ptrs);
}

std::vector<const Json*> OrderCandidates(const Json& claim,
                                         const std::vector<const Json*>& listed) {
  struct Entry {
    SystemTime created;
    const std::string* name;
    const Json* sandbox;
  };
  std::vector<Entry> entries;
  entries.reserve(listed.size());
  for (const Json* sbp : listed) {
    const Json& sb = *sbp;
    if (IsDeleting(sb) || !ConditionTrue(sb, kCondReady)) continue;
    auto ref = ControllerRef(sb);
    if (!ref || ref->kind != "SandboxWarmPool") continue;
    const Json* name = Find(sb, "metadata.name");
    if (!name || !name->is_string()) continue;
    entries.push_back(
        {CreationTime(sb).value_or(SystemTime{}), &name->get_ref<const std::string&>(), &sb});
  }
  // Parse each timestamp once; the sort compares precomputed keys (this runs on the hot path).
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.created != b.created) return a.created < b.created;
    return *a.name < *b.name;
  });
  std::vector<const Json*> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back(e.sandbox);
  if (out.size() > 1) {
    size_t shift = std::stoul(NameHash(Uid(claim) + Name(claim)), nullptr, 16) % out.size();
    std::rotate(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(shift), out.end());
  }
  return out;
}

Json AdoptedSandbox(const Json& candidate, const Json& claim) {
  Json sb = candidate;
  SetControllerRef(sb, MakeControllerRef(api::SandboxClaimResource(), claim));
  RemoveLabel(sb, kLabelWarmPoolSandbox);
  SetLabel(sb, kLabelLaunchType, kLaunchWarm);
  SetLabel(sb, kLabelClaimUid, Uid(claim));
  if (!Annotation(sb, kAnnotationPodName)) SetAnnotation(sb, kAnnotationPodName, Name(sb));
  return sb;
}

Json BuildColdSandbox(const Json& claim, const Json& tmpl) {
  std::string tmpl_name = Name(tmpl);
  Json sb = {
      {"apiVersion", api::SandboxResource().ApiVersion()},
      {"kind", "Sandbox"},
      {"metadata",
       {{"name", Name(claim)},
        {"namespace", Namespace(claim)},
        {"labels",
         {{std::string(kLabelTemplateRefHash), NameHash(tmpl_name)},
          {std::string(kLabelLaunchType), std::string(kLaunchCold)},
          {std::string(kLabelClaimUid), Uid(claim)}}},
        {"annotations", {{std::string(kAnnotationTemplateRef), tmpl_name}}},
        {"ownerReferences", Json::array({MakeControllerRef(api::SandboxClaimResource(), claim)})}}},
      {"spec", {{"operatingMode", "Running"}}}};
  if (auto cb = Label(claim, kLabelCreatedBy)) SetLabel(sb, kLabelCreatedBy, *cb);
  if (const Json* pt = Find(tmpl, "spec.podTemplate")) sb["spec"]["podTemplate"] = *pt;
  if (const Json* svc = Find(tmpl, "spec.service")) sb["spec"]["service"] = *svc;
  if (const Json* vct = Find(tmpl, "spec.volumeClaimTemplates"))
    sb["spec"]["volumeClaimTemplates"] = *vct;
  if (sb["spec"].contains("podTemplate")) MergeAdditionalPodMetadata(sb, claim);
  return sb;
}

void MergeAdditionalPodMetadata(Json& sandbox, const Json& claim) {
  for (const char* field : {"labels", "annotations"}) {
    const Json* extra = Find(claim, std::string("spec.additionalPodMetadata.") + field);
    if (!extra || !extra->is_object() || extra->empty()) continue;
    Json& dst = sandbox["spec"]["podTemplate"]["metadata"][field];
    if (!dst.is_object()) dst = Json::object();
    for (const auto& [k, v] : extra->items())
      if (!dst.contains(k)) dst[k] = v;
  }
}

std::optional<SystemTime> ClaimExpiry(const Json& claim) {
  std::optional<SystemTime> at = ParseRfc3339(GetString(claim, "spec.lifecycle.shutdownTime"));
  const Json* ttl = Find(claim, "spec.lifecycle.ttlSecondsAfterFinished");
  const Json* fin = FindCondition(claim, kCondFinished);
  if (ttl && ttl->is_number_integer() && fin && GetString(*fin, "status") == "True") {
    if (auto t = ParseRfc3339(GetString(*fin, "lastTransitionTime"))) {
      SystemTime ttl_at = *t + std::chrono::seconds(ttl->get<int64_t>());
      if (!at || ttl_at < *at) at = ttl_at;
    }
  }
  return at;
}

Json ClaimStatus(const Json& claim, const std::optional<Json>& sandbox, SystemTime now,
                 std::string_view reason, const std::string& message) {
  Json status = Json::object();
  Json conditions = Json::array();
  if (const Json* c = Find(claim, "status.conditions"); c && c->is_array()) conditions = *c;
  const int64_t gen = Generation(claim);
  status["observedGeneration"] = gen;
  if (!sandbox) {
    conditions = SetCondition(
        conditions, Condition{std::string(kCondReady), "False", std::string(reason), message, gen},
        now);
    status["conditions"] = conditions;
    status["startup"] = ClaimStartup(claim, false, now);
    return status;
  }
  if (const Json* ready = FindCondition(*sandbox, kCondReady)) {
    conditions =
        SetCondition(conditions,
                     Condition{std::string(kCondReady), GetString(*ready, "status"),
                               GetString(*ready, "reason"), GetString(*ready, "message"), gen},
                     now);
  } else {
    conditions = SetCondition(
        conditions,
        Condition{std::string(kCondReady), "False", std::string(kReasonSandboxNotReady),
                  "Sandbox has not reported readiness yet", gen},
        now);
  }
  if (const Json* fin = FindCondition(*sandbox, kCondFinished)) {
    conditions = SetCondition(conditions,
                              Condition{std::string(kCondFinished), GetString(*fin, "status"),
                                        GetString(*fin, "reason"), GetString(*fin, "message"), gen},
                              now);
  } else {
    conditions = RemoveCondition(conditions, kCondFinished);
  }
  status["conditions"] = conditions;
  bool ready = false;
  for (const Json& c : conditions)
    if (GetString(c, "type") == kCondReady) ready = GetString(c, "status") == "True";
  status["startup"] = ClaimStartup(claim, ready, now);
  Json ref = {{"name", Name(*sandbox)}};
  if (const Json* ips = Find(*sandbox, "status.podIPs"); ips && ips->is_array() && !ips->empty())
    ref["podIPs"] = *ips;
  status["sandbox"] = ref;
  return status;
}

}  // namespace asb::controller
