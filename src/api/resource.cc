#include "api/resource.h"

#include "base/strings.h"

namespace asb::api {

const std::vector<ResourceInfo>& AllResources() {
  static const std::vector<ResourceInfo> kAll = {
      // v1beta1 first: it is the storage version and the preferred one in discovery. v1beta1
      // Sandbox has no scale subresource (operatingMode replaced replicas, KEP-694).
      {std::string(kAgentsGroup),
       "v1beta1",
       "Sandbox",
       "sandboxes",
       "sandbox",
       {"sandbox"},
       true,
       true,
       false},
      {std::string(kExtensionsGroup),
       "v1beta1",
       "SandboxTemplate",
       "sandboxtemplates",
       "sandboxtemplate",
       {"sandboxtemplate"},
       true,
       false,
       false},
      {std::string(kExtensionsGroup),
       "v1beta1",
       "SandboxClaim",
       "sandboxclaims",
       "sandboxclaim",
       {"sandboxclaim"},
       true,
       true,
       false},
      {std::string(kExtensionsGroup),
       "v1beta1",
       "SandboxWarmPool",
       "sandboxwarmpools",
       "sandboxwarmpool",
       {"swp"},
       true,
       true,
       true},
      {std::string(kAgentsGroup),
       "v1alpha1",
       "Sandbox",
       "sandboxes",
       "sandbox",
       {"sandbox"},
       true,
       true,
       true},
      {std::string(kExtensionsGroup),
       "v1alpha1",
       "SandboxTemplate",
       "sandboxtemplates",
       "sandboxtemplate",
       {"sandboxtemplate"},
       true,
       false,
       false},
      {std::string(kExtensionsGroup),
       "v1alpha1",
       "SandboxClaim",
       "sandboxclaims",
       "sandboxclaim",
       {"sandboxclaim"},
       true,
       true,
       false},
      {std::string(kExtensionsGroup),
       "v1alpha1",
       "SandboxWarmPool",
       "sandboxwarmpools",
       "sandboxwarmpool",
       {"swp"},
       true,
       true,
       true},
      {"", "v1", "Namespace", "namespaces", "namespace", {"ns"}, false, true, false},
      {"", "v1", "Pod", "pods", "pod", {"po"}, true, true, false},
      {"", "v1", "Service", "services", "service", {"svc"}, true, true, false},
      {"", "v1", "Event", "events", "event", {"ev"}, true, false, false},
      // Pull secrets for imagePullSecrets (api/secret.h); no spec, no status.
      {"", "v1", "Secret", "secrets", "secret", {}, true, false, false},
      // Volumes (api/storage.h): claims made from volumeClaimTemplates, the volumes asbd's
      // node-local provisioner makes for them, and the classes naming a provisioner.
      {"",
       "v1",
       "PersistentVolumeClaim",
       "persistentvolumeclaims",
       "persistentvolumeclaim",
       {"pvc"},
       true,
       true,
       false},
      {"",
       "v1",
       "PersistentVolume",
       "persistentvolumes",
       "persistentvolume",
       {"pv"},
       false,
       true,
       false},
      {"storage.k8s.io",
       "v1",
       "StorageClass",
       "storageclasses",
       "storageclass",
       {"sc"},
       false,
       false,
       false},
      // Stored-only kinds: upstream's release manifests and the seed's router Deployment apply
      // (api/workloads.h says which workloads asbd serves with its embedded components).
      {"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", {"sa"}, true, false, false},
      {"apps", "v1", "Deployment", "deployments", "deployment", {"deploy"}, true, true, true},
      {"apps", "v1", "StatefulSet", "statefulsets", "statefulset", {"sts"}, true, true, true},
      {"rbac.authorization.k8s.io",
       "v1",
       "ClusterRole",
       "clusterroles",
       "clusterrole",
       {},
       false,
       false,
       false},
      {"rbac.authorization.k8s.io",
       "v1",
       "ClusterRoleBinding",
       "clusterrolebindings",
       "clusterrolebinding",
       {},
       false,
       false,
       false},
      {"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", {}, true, false, false},
      {"rbac.authorization.k8s.io",
       "v1",
       "RoleBinding",
       "rolebindings",
       "rolebinding",
       {},
       true,
       false,
       false},
      {"apiextensions.k8s.io",
       "v1",
       "CustomResourceDefinition",
       "customresourcedefinitions",
       "customresourcedefinition",
       {"crd", "crds"},
       false,
       false,
       false},
      // Leader election of `asbd controller` replicas (kube/leader_election.h), as on a cluster.
      {"coordination.k8s.io", "v1", "Lease", "leases", "lease", {}, true, false, false},
      // The nodes `asbd node` processes register (a kubelet's Node), which the scheduler role
      // binds pods to; their heartbeats are Leases in kube-node-lease.
      {"", "v1", "Node", "nodes", "node", {"no"}, false, true, false},
  };
  return kAll;
}

const ResourceInfo* FindByPlural(std::string_view group, std::string_view version,
                                 std::string_view plural) {
  for (const auto& r : AllResources())
    if (r.group == group && r.version == version && r.plural == plural) return &r;
  return nullptr;
}

const ResourceInfo* FindByKind(std::string_view api_version, std::string_view kind) {
  for (const auto& r : AllResources())
    if (r.ApiVersion() == api_version && r.kind == kind) return &r;
  return nullptr;
}

const ResourceInfo* FindByAnyName(std::string_view name) {
  std::string lower = ToLower(name);
  // "sandboxes.agents.x-k8s.io" style qualified names.
  std::string_view base = lower;
  std::string_view group;
  if (size_t dot = base.find('.'); dot != std::string_view::npos) {
    group = base.substr(dot + 1);
    base = base.substr(0, dot);
  }
  for (const auto& r : AllResources()) {
    if (!group.empty() && r.group != group) continue;
    if (r.plural == base || r.singular == base || ToLower(r.kind) == base) return &r;
    for (const auto& s : r.short_names)
      if (s == base) return &r;
  }
  return nullptr;
}

namespace {
const ResourceInfo& Must(std::string_view api_version, std::string_view kind) {
  return *FindByKind(api_version, kind);
}
}  // namespace

const ResourceInfo& SandboxResource() { return Must("agents.x-k8s.io/v1beta1", "Sandbox"); }
const ResourceInfo& SandboxTemplateResource() {
  return Must("extensions.agents.x-k8s.io/v1beta1", "SandboxTemplate");
}
const ResourceInfo& SandboxClaimResource() {
  return Must("extensions.agents.x-k8s.io/v1beta1", "SandboxClaim");
}
const ResourceInfo& SandboxWarmPoolResource() {
  return Must("extensions.agents.x-k8s.io/v1beta1", "SandboxWarmPool");
}

const ResourceInfo& StorageResource(const ResourceInfo& res) {
  // The first entry of a group-resource is its storage version (AllResources' order).
  for (const auto& r : AllResources())
    if (r.group == res.group && r.plural == res.plural) return r;
  return res;
}

bool IsAgentsKind(const ResourceInfo& res) {
  return res.group == kAgentsGroup || res.group == kExtensionsGroup;
}
const ResourceInfo& PodResource() { return Must("v1", "Pod"); }
const ResourceInfo& ServiceResource() { return Must("v1", "Service"); }
const ResourceInfo& NamespaceResource() { return Must("v1", "Namespace"); }
const ResourceInfo& EventResource() { return Must("v1", "Event"); }
const ResourceInfo& DeploymentResource() { return Must("apps/v1", "Deployment"); }
const ResourceInfo& StatefulSetResource() { return Must("apps/v1", "StatefulSet"); }
const ResourceInfo& LeaseResource() { return Must("coordination.k8s.io/v1", "Lease"); }
const ResourceInfo& NodeResource() { return Must("v1", "Node"); }
const ResourceInfo& CustomResourceDefinitionResource() {
  return Must("apiextensions.k8s.io/v1", "CustomResourceDefinition");
}

}  // namespace asb::api
