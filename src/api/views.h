// Typed reads of the fields controllers act on, for objects in either served version (the API
// stores v1beta1, but objects written before, or directly to the store by tests, may be
// v1alpha1-shaped). One place decides what "suspended" or "which pool" means.
#pragma once

#include <cstdint>
#include <string>

#include "base/json_util.h"

namespace asb::api {

// Sandbox: operatingMode Suspended (v1beta1) or replicas 0 (v1alpha1).
bool SandboxSuspended(const Json& sandbox);

// Where a claim's sandbox comes from.
struct ClaimSource {
  enum class Warm { kNone, kAnyPoolOfTemplate, kNamedPool };
  Warm warm = Warm::kNamedPool;
  std::string pool;           // kNamedPool: the pool to adopt from
  std::string template_name;  // "" = the pool's sandboxTemplateRef (v1beta1 claims)
};
// v1beta1: warmPoolRef.name, template from the pool. A claim written in v1alpha1 (its state
// annotation, or a v1alpha1-shaped object): sandboxTemplateRef + warmpool policy.
ClaimSource ClaimSourceOf(const Json& claim);

// SandboxWarmPool spec.replicas (v1beta1 default 1).
int64_t WarmPoolReplicas(const Json& pool);

}  // namespace asb::api
