#include "api/conversion.h"

#include <vector>

#include "api/resource.h"
#include "base/strings.h"

namespace asb::api {

namespace {

constexpr std::string_view kAlpha = "v1alpha1";
constexpr std::string_view kBeta = "v1beta1";

// The v1beta1-only spec fields of each kind (carried in the beta-state annotation on v1alpha1).
std::vector<std::string> BetaOnlySpecFields(std::string_view kind) {
  if (kind == "SandboxTemplate") return {"volumeClaimTemplatesPolicy"};
  if (kind == "SandboxClaim") return {"volumeClaimTemplates"};
  if (kind == "SandboxWarmPool") return {"readinessGracePeriodSeconds"};
  return {};
}

Json* Annotations(Json& obj) {
  Json* meta = obj.contains("metadata") ? &obj["metadata"] : nullptr;
  if (!meta || !meta->is_object()) return nullptr;
  auto it = meta->find("annotations");
  return it != meta->end() && it->is_object() ? &*it : nullptr;
}

void SetAnnotation(Json& obj, std::string_view key, const std::string& value) {
  if (!obj["metadata"].is_object()) obj["metadata"] = Json::object();
  Json& ann = obj["metadata"]["annotations"];
  if (!ann.is_object()) ann = Json::object();
  ann[std::string(key)] = value;
}

// Removes and returns (parsed) annotation `key`; a null Json when absent or unparseable.
Json TakeAnnotationJson(Json& obj, std::string_view key) {
  Json* ann = Annotations(obj);
  if (!ann) return nullptr;
  auto it = ann->find(std::string(key));
  if (it == ann->end()) return nullptr;
  Json parsed = nullptr;
  if (it->is_string()) {
    auto p = ParseJson(it->get<std::string>());
    if (p && p->is_object()) parsed = std::move(*p);
  }
  ann->erase(it);
  if (ann->empty()) obj["metadata"].erase("annotations");
  return parsed;
}

Json& Spec(Json& obj) {
  if (!obj["spec"].is_object()) obj["spec"] = Json::object();
  return obj["spec"];
}

const Json* SpecField(const Json* obj, const std::string& field) {
  if (!obj) return nullptr;
  const Json* spec = Find(*obj, "spec");
  if (!spec || !spec->is_object()) return nullptr;
  auto it = spec->find(field);
  return it == spec->end() || it->is_null() ? nullptr : &*it;
}

// v1alpha1 -> v1beta1, part 1: restore the v1beta1-only fields from the annotation a read in
// v1alpha1 put there, or keep the stored object's.
void RestoreBetaOnly(Json& obj, std::string_view kind, const ConvertContext& ctx) {
  std::vector<std::string> fields = BetaOnlySpecFields(kind);
  Json state = TakeAnnotationJson(obj, BetaStateAnnotation(kind));
  if (fields.empty()) return;
  for (const std::string& f : fields) {
    if (state.is_object()) {
      if (const Json* v = SpecField(&state, f)) Spec(obj)[f] = *v;
    } else if (const Json* v = SpecField(ctx.current, f)) {
      Spec(obj)[f] = *v;
    }
  }
}

// v1beta1 -> v1alpha1, part 2: move the v1beta1-only fields into the annotation.
void StashBetaOnly(Json& obj, std::string_view kind) {
  Json stash = Json::object();
  for (const std::string& f : BetaOnlySpecFields(kind)) {
    if (!obj["spec"].is_object()) break;
    auto it = obj["spec"].find(f);
    if (it == obj["spec"].end()) continue;
    if (!it->is_null()) stash[f] = *it;
    obj["spec"].erase(it);
  }
  // Defaults are not worth an annotation: defaulting restores them.
  if (kind == "SandboxTemplate" && stash.value("volumeClaimTemplatesPolicy", "") == "Disallowed")
    stash.erase("volumeClaimTemplatesPolicy");
  if (!stash.empty()) SetAnnotation(obj, BetaStateAnnotation(kind), DumpJson({{"spec", stash}}));
}

bool SpecificPool(const std::string& warmpool) {
  return !warmpool.empty() && warmpool != "default" && warmpool != "none";
}

std::string ExpectedPoolRef(const std::string& tmpl, const std::string& warmpool) {
  return SpecificPool(warmpool) ? warmpool : std::string(kShadowPoolPrefix) + tmpl;
}

// --- per kind -----------------------------------------------------------------------------------

void SandboxUp(Json& obj) {
  Json& spec = Spec(obj);
  auto r = spec.find("replicas");
  bool suspended = r != spec.end() && r->is_number_integer() && r->get<int64_t>() == 0;
  if (r != spec.end()) spec.erase(r);
  spec["operatingMode"] = suspended ? "Suspended" : "Running";
  if (obj.contains("status") && obj["status"].is_object()) obj["status"].erase("replicas");
}

void SandboxDown(Json& obj) {
  Json& spec = Spec(obj);
  bool suspended = spec.value("operatingMode", "Running") == "Suspended";
  spec.erase("operatingMode");
  spec["replicas"] = suspended ? 0 : 1;
  if (obj.contains("status") && obj["status"].is_object()) {
    bool has_pod = false;
    if (const Json* cs = Find(obj, "status.conditions"); cs && cs->is_array())
      for (const Json& c : *cs)
        if (c.is_object() && c.value("type", "") == "PodScheduled") has_pod = true;
    obj["status"]["replicas"] = has_pod && !suspended ? 1 : 0;
  }
}

void ClaimUp(Json& obj) {
  Json& spec = Spec(obj);
  std::string tmpl = GetString(obj, "spec.sandboxTemplateRef.name");
  std::string warmpool = GetString(obj, "spec.warmpool", "default");
  Json state = {{"spec", {{"warmpool", warmpool}}}};
  if (spec.contains("sandboxTemplateRef"))
    state["spec"]["sandboxTemplateRef"] = spec["sandboxTemplateRef"];
  spec.erase("sandboxTemplateRef");
  spec.erase("warmpool");
  spec["warmPoolRef"] = {{"name", ExpectedPoolRef(tmpl, warmpool)}};
  SetAnnotation(obj, kAlphaClaimStateAnnotation, DumpJson(state));
  if (obj.contains("status") && obj["status"].is_object()) {
    Json& st = obj["status"];
    if (st.contains("sandbox") && st["sandbox"].is_object()) {
      Json& sb = st["sandbox"];
      if (!sb.contains("name") && sb.contains("Name")) sb["name"] = sb["Name"];
      sb.erase("Name");
    }
  }
}

void ClaimDown(Json& obj, const ConvertContext& ctx) {
  Json& spec = Spec(obj);
  std::string pool = GetString(obj, "spec.warmPoolRef.name");
  spec.erase("warmPoolRef");
  Json state = TakeAnnotationJson(obj, kAlphaClaimStateAnnotation);
  std::string tmpl, warmpool;
  if (state.is_object()) {
    tmpl = GetString(state, "spec.sandboxTemplateRef.name");
    warmpool = GetString(state, "spec.warmpool", "default");
  }
  if (!state.is_object() || pool != ExpectedPoolRef(tmpl, warmpool)) {
    // Written in v1beta1, or its pool changed there since: the pool decides.
    if (StartsWith(pool, kShadowPoolPrefix)) {
      tmpl = pool.substr(kShadowPoolPrefix.size());
      warmpool = "default";
    } else {
      std::string resolved =
          ctx.pool_template ? ctx.pool_template(GetString(obj, "metadata.namespace"), pool) : "";
      if (!resolved.empty() || tmpl.empty()) tmpl = resolved.empty() ? pool : resolved;
      warmpool = pool;
    }
  }
  const Json* restored = state.is_object() ? Find(state, "spec.sandboxTemplateRef") : nullptr;
  if (restored && restored->is_object() && GetString(*restored, "name") == tmpl)
    spec["sandboxTemplateRef"] = *restored;
  else
    spec["sandboxTemplateRef"] = {{"name", tmpl}};
  spec["warmpool"] = warmpool;
  if (obj.contains("status") && obj["status"].is_object()) {
    Json& st = obj["status"];
    if (st.contains("sandbox") && st["sandbox"].is_object() && st["sandbox"].contains("name"))
      st["sandbox"]["Name"] = st["sandbox"]["name"];  // the v0.1.0 key
  }
}

void PoolDown(Json& obj) {
  Json& spec = Spec(obj);
  if (!spec.contains("replicas") || spec["replicas"].is_null()) spec["replicas"] = 1;
}

}  // namespace

std::string BetaStateAnnotation(std::string_view kind) {
  return "api.agents.x-k8s.io/v1beta1-" + ToLower(kind) + "-state";
}

std::string_view VersionOf(const Json& obj) {
  const Json* av = obj.is_object() ? Find(obj, "apiVersion") : nullptr;
  if (!av || !av->is_string()) return {};
  std::string_view s = av->get_ref<const std::string&>();
  size_t slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

Json ConvertToVersion(Json obj, std::string_view version, const ConvertContext& ctx) {
  if (!obj.is_object()) return obj;
  std::string_view from = VersionOf(obj);
  if (from == version) return obj;
  std::string api_version = GetString(obj, "apiVersion");
  std::string group = api_version.substr(0, api_version.rfind('/'));
  if (group != kAgentsGroup && group != kExtensionsGroup) return obj;
  const std::string kind = GetString(obj, "kind");
  if (from == kAlpha && version == kBeta) {
    RestoreBetaOnly(obj, kind, ctx);
    if (kind == "Sandbox") SandboxUp(obj);
    if (kind == "SandboxClaim") ClaimUp(obj);
  } else if (from == kBeta && version == kAlpha) {
    if (kind == "Sandbox") SandboxDown(obj);
    if (kind == "SandboxClaim") ClaimDown(obj, ctx);
    if (kind == "SandboxWarmPool") PoolDown(obj);
    StashBetaOnly(obj, kind);
  } else {
    return obj;  // an unknown version: leave it to validation
  }
  obj["apiVersion"] = group + "/" + std::string(version);
  return obj;
}

}  // namespace asb::api
