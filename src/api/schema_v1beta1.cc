// The v1beta1 schemas of the four agent-sandbox kinds (upstream api/v1beta1 and
// extensions/api/v1beta1 at the mirror's HEAD, plus SandboxWarmPool.readinessGracePeriodSeconds
// from v1.0.12). What differs from v1alpha1:
//   Sandbox:  operatingMode Running|Suspended replaces replicas; status.nodeName; no scale.
//   Template: volumeClaimTemplatesPolicy.
//   Claim:    warmPoolRef.name (required) replaces sandboxTemplateRef + warmpool;
//             volumeClaimTemplates.
//   Pool:     replicas optional, default 1; readinessGracePeriodSeconds (>= 30).
#include <map>

#include "api/schema_parts.h"

namespace asb::api {

namespace {

using schema_parts::ClaimStartup;
using schema_parts::Condition;
using schema_parts::PodTemplate;
using schema_parts::Root;
using schema_parts::StrMap;
using schema_parts::TemplateRef;
using schema_parts::VolumeClaimTemplates;

SchemaPtr PodMetadata() { return Obj({{"labels", StrMap()}, {"annotations", StrMap()}}); }

SchemaPtr SandboxSchema() {
  SchemaPtr spec =
      Obj({{"podTemplate", PodTemplate()},
           {"volumeClaimTemplates", VolumeClaimTemplates()},
           {"service", Bool().Describe("true: a headless Service is created for the sandbox; "
                                       "false: an owned Service is deleted")},
           {"shutdownTime", Str().Format("date-time").Describe("When the sandbox expires")},
           {"shutdownPolicy", Str().Enum({"Delete", "Retain"}).Default("Retain")},
           {"operatingMode",
            Str()
                .Enum({"Running", "Suspended"})
                .Default("Running")
                .Describe("Running keeps a pod; Suspended deletes it and keeps the Sandbox")}})
          .Required({"podTemplate"});
  SchemaPtr status = Obj({{"serviceFQDN", Str()},
                          {"service", Str()},
                          {"conditions", Arr(Condition()).MergeKey("type")},
                          {"selector", Str()},
                          {"podIPs", Arr(Str())},
                          {"nodeName", Str()},
                          {"observedGeneration", Int()}});
  return Root(spec, status);
}

SchemaPtr SandboxTemplateSchema() {
  SchemaPtr spec =
      Obj({{"podTemplate", PodTemplate()},
           {"volumeClaimTemplates", VolumeClaimTemplates()},
           {"service", Bool()},
           {"networkPolicy", Obj({{"ingress", Arr(Any())}, {"egress", Arr(Any())}})},
           {"networkPolicyManagement", Str().Enum({"Managed", "Unmanaged"}).Default("Managed")},
           {"envVarsInjectionPolicy",
            Str().Enum({"Disallowed", "Allowed", "Overrides"}).Default("Disallowed")},
           {"volumeClaimTemplatesPolicy",
            Str().Enum({"Disallowed", "Allowed", "Overrides"}).Default("Disallowed")}})
          .Required({"podTemplate"});
  return Root(spec, nullptr);
}

SchemaPtr SandboxClaimSchema() {
  SchemaPtr pool_ref =
      Obj({{"name", Str().Describe("Name of the SandboxWarmPool in the claim's namespace")}})
          .Required({"name"})
          .Describe(
              "The SandboxWarmPool to claim from. The template comes from the pool; a pool with "
              "replicas 0 is a cold-start profile.");
  SchemaPtr spec =
      Obj({{"warmPoolRef", pool_ref},
           {"lifecycle",
            Obj({{"shutdownTime", Str().Format("date-time")},
                 {"ttlSecondsAfterFinished", Int().Min(0)},
                 {"shutdownPolicy",
                  Str().Enum({"Delete", "DeleteForeground", "Retain"}).Default("Retain")}})},
           {"additionalPodMetadata", PodMetadata()},
           {"env", Arr(Obj({{"name", Str()}, {"value", Str()}, {"containerName", Str()}})
                           .Required({"name"}))},
           {"volumeClaimTemplates", VolumeClaimTemplates()}})
          .Required({"warmPoolRef"});
  SchemaPtr status = Obj({{"conditions", Arr(Condition()).MergeKey("type")},
                          {"sandbox", Obj({{"name", Str()}, {"podIPs", Arr(Str())}})},
                          {"startup", ClaimStartup()},
                          {"observedGeneration", Int()}});
  return Root(spec, status);
}

SchemaPtr SandboxWarmPoolSchema() {
  SchemaPtr spec =
      Obj({{"replicas", Int().Min(0).Default(1)},
           {"sandboxTemplateRef", TemplateRef()},
           {"updateStrategy",
            Obj({{"type", Str().Enum({"OnReplenish", "Recreate"}).Default("OnReplenish")}})},
           {"readinessGracePeriodSeconds",
            Int().Min(30).Describe("How long a member may stay unready before it is replaced")}})
          .Required({"sandboxTemplateRef"});
  SchemaPtr status = Obj({{"replicas", Int().Min(0)},
                          {"readyReplicas", Int().Min(0)},
                          {"selector", Str()},
                          {"observedGeneration", Int().Min(0)}});
  return Root(spec, status);
}

}  // namespace

const Schema& V1beta1KindSchema(const ResourceInfo& res) {
  static const std::map<std::string, SchemaPtr>* kSchemas = [] {
    auto* m = new std::map<std::string, SchemaPtr>();
    (*m)["Sandbox"] = SandboxSchema();
    (*m)["SandboxTemplate"] = SandboxTemplateSchema();
    (*m)["SandboxClaim"] = SandboxClaimSchema();
    (*m)["SandboxWarmPool"] = SandboxWarmPoolSchema();
    return m;
  }();
  return schema_parts::SchemaOfKind(*kSchemas, res.kind);
}

}  // namespace asb::api
