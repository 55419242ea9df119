// The table of every kind the API server serves: group, version, names, scope, subresources.
// Everything that needs to know "what is a SandboxClaim" (apiserver discovery and routing, the
// store's keys, controllers, asbctl) looks it up here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace asb::api {

struct ResourceInfo {
  std::string group;    // "" for the core group
  std::string version;  // "v1beta1", "v1alpha1", "v1"
  std::string kind;     // "Sandbox"
  std::string plural;   // "sandboxes"
  std::string singular;
  std::vector<std::string> short_names;
  bool namespaced = true;
  bool has_status = false;  // status subresource: main-resource writes ignore .status
  bool has_scale = false;   // scale subresource (spec.replicas / status.replicas)

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string ListKind() const { return kind + "List"; }
  // "sandboxes.agents.x-k8s.io" (or "pods" for core): how Kubernetes names it in errors.
  std::string GroupResource() const { return group.empty() ? plural : plural + "." + group; }
};

inline constexpr std::string_view kAgentsGroup = "agents.x-k8s.io";
inline constexpr std::string_view kExtensionsGroup = "extensions.agents.x-k8s.io";

// All served kinds, in discovery order.
const std::vector<ResourceInfo>& AllResources();

// Lookups; nullptr when unknown.
const ResourceInfo* FindByPlural(std::string_view group, std::string_view version,
                                 std::string_view plural);
const ResourceInfo* FindByKind(std::string_view api_version, std::string_view kind);
// Matches plural, singular, kind (case-insensitive) or a short name: what `kubectl get X` takes.
const ResourceInfo* FindByAnyName(std::string_view name);

// The version a group-resource is stored in (v1beta1 for the agent-sandbox kinds; the API server
// converts at its edge, api/conversion.h). Identity for single-version kinds.
const ResourceInfo& StorageResource(const ResourceInfo& res);
// The four agent-sandbox kinds (served in v1alpha1 and v1beta1).
bool IsAgentsKind(const ResourceInfo& res);

// Well-known kinds, in their storage version (what controllers read and write).
const ResourceInfo& SandboxResource();
const ResourceInfo& SandboxTemplateResource();
const ResourceInfo& SandboxClaimResource();
const ResourceInfo& SandboxWarmPoolResource();
const ResourceInfo& PodResource();
const ResourceInfo& ServiceResource();
const ResourceInfo& NamespaceResource();
const ResourceInfo& EventResource();
const ResourceInfo& DeploymentResource();
const ResourceInfo& StatefulSetResource();
const ResourceInfo& CustomResourceDefinitionResource();
const ResourceInfo& LeaseResource();
const ResourceInfo& NodeResource();

}  // namespace asb::api
