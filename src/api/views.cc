#include "api/views.h"

#include "api/conversion.h"

namespace asb::api {

bool SandboxSuspended(const Json& sandbox) {
  if (GetString(sandbox, "spec.operatingMode") == "Suspended") return true;
  const Json* r = Find(sandbox, "spec.replicas");
  return r && r->is_number_integer() && r->get<int64_t>() == 0;
}

namespace {

ClaimSource FromAlpha(const std::string& tmpl, const std::string& warmpool) {
  ClaimSource s;
  s.template_name = tmpl;
  if (warmpool == "none") {
    s.warm = ClaimSource::Warm::kNone;
  } else if (warmpool.empty() || warmpool == "default") {
    s.warm = ClaimSource::Warm::kAnyPoolOfTemplate;
  } else {
    s.warm = ClaimSource::Warm::kNamedPool;
    s.pool = warmpool;
  }
  return s;
}

}  // namespace

ClaimSource ClaimSourceOf(const Json& claim) {
  std::string pool = GetString(claim, "spec.warmPoolRef.name");
  if (pool.empty()) {  // a v1alpha1-shaped object
    return FromAlpha(GetString(claim, "spec.sandboxTemplateRef.name"),
                     GetString(claim, "spec.warmpool"));
  }
  const Json* ann = Find(claim, "metadata.annotations");
  if (ann && ann->is_object()) {
    auto it = ann->find(std::string(kAlphaClaimStateAnnotation));
    if (it != ann->end() && it->is_string()) {
      auto state = ParseJson(it->get<std::string>());
      if (state && state->is_object()) {
        std::string tmpl = GetString(*state, "spec.sandboxTemplateRef.name");
        std::string warmpool = GetString(*state, "spec.warmpool", "default");
        bool specific = warmpool != "default" && warmpool != "none" && !warmpool.empty();
        std::string expected = specific ? warmpool : std::string(kShadowPoolPrefix) + tmpl;
        // Written in v1alpha1 and not re-pointed at a pool since.
        if (expected == pool && !tmpl.empty()) return FromAlpha(tmpl, warmpool);
      }
    }
  }
  ClaimSource s;
  s.warm = ClaimSource::Warm::kNamedPool;
  s.pool = pool;
  return s;
}

int64_t WarmPoolReplicas(const Json& pool) {
  const Json* r = Find(pool, "spec.replicas");
  return r && r->is_number_integer() ? r->get<int64_t>() : 1;
}

}  // namespace asb::api
