// Conversion between the two served versions of the agent-sandbox kinds (v1alpha1 and v1beta1;
// v1beta1 is stored). The API server converts at its edge (apiserver/versioned_store.h), so
// controllers and the store see one version.
//
// Lossless both ways: a field one version lacks is carried in an annotation on the other and
// restored when the object comes back (upstream does the same):
//   - api.agents.x-k8s.io/v1alpha1-sandboxclaim-state on a stored claim written in v1alpha1:
//     {"spec":{"sandboxTemplateRef":..,"warmpool":..}} (v1beta1 has only warmPoolRef);
//   - api.agents.x-k8s.io/v1beta1-<kind>-state on an object read in v1alpha1: the v1beta1-only
//     spec fields (template volumeClaimTemplatesPolicy, claim volumeClaimTemplates, pool
//     readinessGracePeriodSeconds).
// A v1alpha1 write without the annotation keeps those fields from the stored object (`current`),
// so a client that never saw them can't drop them.
//
// Field mapping: Sandbox replicas 0|1 <-> operatingMode Suspended|Running (status.replicas is
// derived on the way down: 1 while the sandbox has a pod, i.e. a PodScheduled condition). Claim
// warmpool "<pool>" <-> warmPoolRef.name "<pool>"; warmpool default/none <-> warmPoolRef.name
// "shadow-pool-<template>" (upstream's convention) with the original policy in the annotation.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/json_util.h"

namespace asb::api {

inline constexpr std::string_view kAlphaClaimStateAnnotation =
    "api.agents.x-k8s.io/v1alpha1-sandboxclaim-state";
inline constexpr std::string_view kShadowPoolPrefix = "shadow-pool-";
// "api.agents.x-k8s.io/v1beta1-sandboxtemplate-state" etc.
std::string BetaStateAnnotation(std::string_view kind);

struct ConvertContext {
  // The stored object an update replaces (any version), or nullptr.
  const Json* current = nullptr;
  // The template of warm pool `pool` in `ns` ("" if unknown): a claim created in v1beta1 read in
  // v1alpha1 needs a sandboxTemplateRef.
  std::function<std::string(const std::string& ns, const std::string& pool)> pool_template;
};

// `obj` (an agent-sandbox kind; its apiVersion says which version) in `version` ("v1alpha1" or
// "v1beta1"). Other kinds, and objects already in `version`, are returned unchanged.
Json ConvertToVersion(Json obj, std::string_view version, const ConvertContext& ctx = {});

// "v1alpha1" for "agents.x-k8s.io/v1alpha1".
std::string_view VersionOf(const Json& obj);

}  // namespace asb::api
