#include "controller/claim_plan.h"

#include <algorithm>

#include "api/resource.h"
#include "controller/conditions.h"
#include "controller/object_util.h"

namespace asb::controller {

WarmPoolPolicy GetWarmPoolPolicy(const Json& claim) {
  std::string p = GetString(claim, "spec.warmpool");
  if (p == "none") return WarmPoolPolicy::kNone;
  if (p.empty() || p == "default") return WarmPoolPolicy::kAny;
  return WarmPoolPolicy::kNamed;
}

std::string CandidateSelector(const Json& claim) {
  std::string tmpl_hash = NameHash(GetString(claim, "spec.sandboxTemplateRef.name"));
  std::string sel = std::string(kLabelTemplateRefHash) + "=" + tmpl_hash + ",";
  if (GetWarmPoolPolicy(claim) == WarmPoolPolicy::kNamed)
    return sel + std::string(kLabelWarmPoolSandbox) + "=" +
           NameHash(GetString(claim, "spec.warmpool"));
  return sel + std::string(kLabelWarmPoolSandbox);
}

std::vector<const Json*> OrderCandidates(const Json& claim, const std::vector<Json>& listed) {
  struct Entry {
    SystemTime created;
    const std::string* name;
    const Json* sandbox;
  };
  std::vector<Entry> entries;
  entries.reserve(listed.size());
  for (const Json& sb : listed) {
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
      {"spec", Json::object()}};
  if (auto cb = Label(claim, kLabelCreatedBy)) SetLabel(sb, kLabelCreatedBy, *cb);
  if (const Json* pt = Find(tmpl, "spec.podTemplate")) sb["spec"]["podTemplate"] = *pt;
  if (const Json* svc = Find(tmpl, "spec.service")) sb["spec"]["service"] = *svc;
  if (const Json* vct = Find(tmpl, "spec.volumeClaimTemplates"))
    sb["spec"]["volumeClaimTemplates"] = *vct;
  return sb;
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
  Json ref = {{"Name", Name(*sandbox)}, {"name", Name(*sandbox)}};
  if (const Json* ips = Find(*sandbox, "status.podIPs"); ips && ips->is_array() && !ips->empty())
    ref["podIPs"] = *ips;
  status["sandbox"] = ref;
  return status;
}

}  // namespace asb::controller
