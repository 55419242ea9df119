// The schema of every served kind. Field names follow upstream agent-sandbox v1alpha1 (HEAD)
// and core/v1 (v1beta1: schema_v1beta1.cc); see docs/api.md for what is described loosely.
#include <map>

#include "api/schema.h"
#include "api/schema_parts.h"
#include "api/secret.h"
#include "api/storage.h"

namespace asb::api {

// Building blocks shared with the v1beta1 schemas (schema_v1beta1.cc).
namespace schema_parts {

SchemaPtr StrMap() { return MapOf(Str()); }

SchemaPtr OwnerReference() {
  return Obj({{"apiVersion", Str()},
              {"kind", Str()},
              {"name", Str()},
              {"uid", Str()},
              {"controller", Bool()},
              {"blockOwnerDeletion", Bool()}})
      .Required({"apiVersion", "kind", "name", "uid"});
}

SchemaPtr Condition() {
  return Obj({{"type", Str()},
              {"status", Str()},
              {"observedGeneration", Int()},
              {"lastTransitionTime", Str().Format("date-time")},
              {"lastProbeTime", Any()},
              {"lastUpdateTime", Any()},
              {"reason", Str()},
              {"message", Str()}})
      .Required({"type", "status"});
}

SchemaPtr Probe() {
  return Obj({{"exec", Obj({{"command", Arr(Str())}})},
              {"httpGet", Obj({{"path", Str()},
                               {"port", IntOrStr()},
                               {"host", Str()},
                               {"scheme", Str()},
                               {"httpHeaders", Arr(Obj({{"name", Str()}, {"value", Str()}}))}})
                              .Required({"port"})},
              {"tcpSocket", Obj({{"port", IntOrStr()}, {"host", Str()}}).Required({"port"})},
              {"grpc", Obj({{"port", Int()}, {"service", Str()}})},
              {"initialDelaySeconds", Int().Min(0)},
              {"timeoutSeconds", Int().Min(0)},
              {"periodSeconds", Int().Min(0)},
              {"successThreshold", Int().Min(0)},
              {"failureThreshold", Int().Min(0)},
              {"terminationGracePeriodSeconds", Int()}});
}

SchemaPtr Container() {
  SchemaPtr env = Obj({{"name", Str()}, {"value", Str()}, {"valueFrom", Any()}}).Required({"name"});
  SchemaPtr port = Obj({{"name", Str()},
                        {"containerPort", Int()},
                        {"hostPort", Int()},
                        {"hostIP", Str()},
                        {"protocol", Str().Enum({"TCP", "UDP", "SCTP"})}})
                       .Required({"containerPort"});
  SchemaPtr mount = Obj({{"name", Str()},
                         {"mountPath", Str()},
                         {"subPath", Str()},
                         {"subPathExpr", Str()},
                         {"readOnly", Bool()},
                         {"recursiveReadOnly", Str()},
                         {"mountPropagation", Str()}})
                        .Required({"name", "mountPath"});
  return Obj({{"name", Str()},
              {"image", Str()},
              {"command", Arr(Str())},
              {"args", Arr(Str())},
              {"workingDir", Str()},
              {"ports", Arr(port).MergeKey("containerPort")},
              {"env", Arr(env).MergeKey("name")},
              {"envFrom", Arr(Any())},
              {"resources", Obj({{"limits", MapOf(IntOrStr())},
                                 {"requests", MapOf(IntOrStr())},
                                 {"claims", Arr(Any())}})},
              {"resizePolicy", Arr(Any())},
              {"restartPolicy", Str()},
              {"volumeMounts", Arr(mount).MergeKey("mountPath")},
              {"volumeDevices", Arr(Any())},
              {"livenessProbe", Probe()},
              {"readinessProbe", Probe()},
              {"startupProbe", Probe()},
              {"lifecycle", Any()},
              {"terminationMessagePath", Str()},
              {"terminationMessagePolicy", Str()},
              {"imagePullPolicy", Str().Enum({"Always", "Never", "IfNotPresent"})},
              {"securityContext", Any()},
              {"stdin", Bool()},
              {"stdinOnce", Bool()},
              {"tty", Bool()}})
      .Required({"name"});
}

SchemaPtr PodSpec() {
  SchemaPtr container = Container();
  return Obj({{"containers", Arr(container).MergeKey("name")},
              {"initContainers", Arr(container).MergeKey("name")},
              {"ephemeralContainers", Arr(Any())},
              {"volumes",
               Arr(Obj({{"name", Str()}}).Required({"name"}).PreserveUnknown()).MergeKey("name")},
              {"restartPolicy", Str().Enum({"Always", "OnFailure", "Never"})},
              {"terminationGracePeriodSeconds", Int().Min(0)},
              {"activeDeadlineSeconds", Int().Min(1)},
              {"dnsPolicy", Str()},
              {"dnsConfig", Any()},
              {"nodeSelector", StrMap()},
              {"serviceAccountName", Str()},
              {"serviceAccount", Str()},
              {"automountServiceAccountToken", Bool()},
              {"nodeName", Str()},
              {"hostNetwork", Bool()},
              {"hostPID", Bool()},
              {"hostIPC", Bool()},
              {"hostUsers", Bool()},
              {"shareProcessNamespace", Bool()},
              {"securityContext", Any()},
              {"imagePullSecrets", Arr(Any())},
              {"hostname", Str()},
              {"subdomain", Str()},
              {"setHostnameAsFQDN", Bool()},
              {"affinity", Any()},
              {"schedulerName", Str()},
              {"tolerations", Arr(Any())},
              {"hostAliases", Arr(Any())},
              {"priorityClassName", Str()},
              {"priority", Int()},
              {"preemptionPolicy", Str()},
              {"readinessGates", Arr(Any())},
              {"runtimeClassName", Str()},
              {"enableServiceLinks", Bool()},
              {"overhead", MapOf(IntOrStr())},
              {"topologySpreadConstraints", Arr(Any())},
              {"os", Any()},
              {"schedulingGates", Arr(Any())},
              {"resourceClaims", Arr(Any())},
              {"resources", Any()}})
      .Required({"containers"});
}

SchemaPtr PodTemplate() {
  return Obj({{"metadata", Obj({{"labels", StrMap()}, {"annotations", StrMap()}})},
              {"spec", PodSpec()}})
      .Required({"spec"});
}

SchemaPtr VolumeClaimTemplates() {
  return Arr(
      Obj({{"metadata", Obj({{"name", Str()}, {"labels", StrMap()}, {"annotations", StrMap()}})},
           {"spec", PersistentVolumeClaimSpecSchema()}}));
}

SchemaPtr TemplateRef() { return Obj({{"name", Str()}}).Required({"name"}); }

SchemaPtr ClaimStartup() {
  auto time = [](const char* what) { return Str().Format("date-time").Describe(what); };
  return Obj({{"admissionObservedTime",
               time("When admission first saw the claim (not set by asb)")},
              {"controllerObservedTime", time("When the controller first observed the claim")},
              {"firstReadyTime", time("When the claim first became Ready")},
              {"firstReadyTimeUnavailable",
               Bool().Describe("The claim was Ready before its first Ready time was recorded")}})
      .Describe("Write-once startup timestamps (metav1.MicroTime)");
}

SchemaPtr Root(SchemaPtr spec, SchemaPtr status) {
  SchemaBuilder b = Obj({{"apiVersion", Str()}, {"kind", Str()}, {"metadata", ObjectMetaSchema()}});
  if (spec) b.raw().properties.emplace_back("spec", spec);
  if (status) b.raw().properties.emplace_back("status", status);
  return b;
}

SchemaPtr SandboxSchema() {
  SchemaPtr spec = Obj({{"podTemplate", PodTemplate()},
                        {"volumeClaimTemplates", VolumeClaimTemplates()},
                        {"shutdownTime", Str().Format("date-time")},
                        {"shutdownPolicy", Str().Enum({"Delete", "Retain"}).Default("Retain")},
                        {"replicas", Int().Min(0).Max(1).Default(1)},
                        {"service", Bool()}})
                       .Required({"podTemplate"});
  SchemaPtr status = Obj({{"serviceFQDN", Str()},
                          {"service", Str()},
                          {"conditions", Arr(Condition()).MergeKey("type")},
                          {"replicas", Int().Min(0)},
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
           {"networkPolicy", Obj({{"ingress", Arr(Any())}, {"egress", Arr(Any())}})},
           {"networkPolicyManagement", Str().Enum({"Managed", "Unmanaged"}).Default("Managed")},
           {"envVarsInjectionPolicy",
            Str().Enum({"Disallowed", "Allowed", "Overrides"}).Default("Disallowed")},
           {"service", Bool()}})
          .Required({"podTemplate"});
  return Root(spec, Obj({}).PreserveUnknown());
}

SchemaPtr SandboxClaimSchema() {
  SchemaPtr spec =
      Obj({{"sandboxTemplateRef", TemplateRef()},
           {"warmpool", Str().Default("default")},
           {"lifecycle",
            Obj({{"shutdownTime", Str().Format("date-time")},
                 {"ttlSecondsAfterFinished", Int().Min(0)},
                 {"shutdownPolicy",
                  Str().Enum({"Delete", "DeleteForeground", "Retain"}).Default("Retain")}})},
           {"additionalPodMetadata", Obj({{"labels", StrMap()}, {"annotations", StrMap()}})},
           {"env", Arr(Obj({{"name", Str()}, {"value", Str()}, {"containerName", Str()}})
                           .Required({"name"}))}})
          .Required({"sandboxTemplateRef"});
  SchemaPtr status =
      Obj({{"conditions", Arr(Condition()).MergeKey("type")},
           {"sandbox", Obj({{"name", Str()}, {"Name", Str()}, {"podIPs", Arr(Str())}})},
           {"startup", ClaimStartup()},
           {"observedGeneration", Int()}});
  return Root(spec, status);
}

SchemaPtr SandboxWarmPoolSchema() {
  SchemaPtr spec =
      Obj({{"replicas", Int().Min(0)},
           {"sandboxTemplateRef", TemplateRef()},
           {"updateStrategy",
            Obj({{"type", Str().Enum({"OnReplenish", "Recreate"}).Default("OnReplenish")}})}})
          .Required({"replicas", "sandboxTemplateRef"});
  SchemaPtr status = Obj({{"replicas", Int().Min(0)},
                          {"readyReplicas", Int().Min(0)},
                          {"selector", Str()},
                          {"observedGeneration", Int()}});
  return Root(spec, status);
}

SchemaPtr PodSchema() { return Root(PodSpec(), Obj({}).PreserveUnknown()); }

// apps/v1 Deployment and StatefulSet (stored-only, api/workloads.h): the pod template is
// described so strategic merge patches merge containers by name; the rest is kept as given.
SchemaPtr WorkloadSchema() {
  return Root(Obj({{"replicas", Int().Min(0)}, {"template", PodTemplate()}})
                  .Required({"template"})
                  .PreserveUnknown(),
              Obj({}).PreserveUnknown());
}

SchemaPtr ServiceSchema() {
  SchemaPtr port = Obj({{"name", Str()},
                        {"protocol", Str().Enum({"TCP", "UDP", "SCTP"})},
                        {"appProtocol", Str()},
                        {"port", Int().Min(1).Max(65535)},
                        {"targetPort", IntOrStr()},
                        {"nodePort", Int()}})
                       .Required({"port"});
  SchemaPtr spec = Obj({{"ports", Arr(port).MergeKey("port")},
                        {"selector", StrMap()},
                        {"clusterIP", Str()},
                        {"clusterIPs", Arr(Str())},
                        {"type", Str()},
                        {"publishNotReadyAddresses", Bool()},
                        {"sessionAffinity", Str()}})
                       .PreserveUnknown();
  return Root(spec, Obj({}).PreserveUnknown());
}

SchemaPtr NamespaceSchema() {
  return Root(Obj({{"finalizers", Arr(Str())}}),
              Obj({{"phase", Str()}, {"conditions", Arr(Any())}}));
}

SchemaPtr EventSchema() {
  return Obj({{"apiVersion", Str()},
              {"kind", Str()},
              {"metadata", ObjectMetaSchema()},
              {"involvedObject", Any()},
              {"reason", Str()},
              {"message", Str()},
              {"source", Any()},
              {"firstTimestamp", Any()},
              {"lastTimestamp", Any()},
              {"eventTime", Any()},
              {"count", Int()},
              {"type", Str()},
              {"series", Any()},
              {"action", Str()},
              {"related", Any()},
              {"reportingComponent", Str()},
              {"reportingInstance", Str()}});
}

const Schema& SchemaOfKind(const std::map<std::string, SchemaPtr>& by_kind,
                           const std::string& kind) {
  static const SchemaPtr kPermissive = Obj({{"metadata", ObjectMetaSchema()}}).PreserveUnknown();
  auto it = by_kind.find(kind);
  return it == by_kind.end() ? *kPermissive : *it->second;
}

}  // namespace schema_parts

SchemaPtr ObjectMetaSchema() {
  using schema_parts::OwnerReference;
  using schema_parts::StrMap;
  static const SchemaPtr kMeta = Obj({{"name", Str()},
                                      {"generateName", Str()},
                                      {"namespace", Str()},
                                      {"selfLink", Str()},
                                      {"uid", Str()},
                                      {"resourceVersion", Str()},
                                      {"generation", Int()},
                                      {"creationTimestamp", Any()},
                                      {"deletionTimestamp", Any()},
                                      {"deletionGracePeriodSeconds", Int()},
                                      {"labels", StrMap()},
                                      {"annotations", StrMap()},
                                      {"ownerReferences", Arr(OwnerReference()).MergeKey("uid")},
                                      {"finalizers", Arr(Str()).MergePrimitives()},
                                      {"managedFields", Arr(Any())}});
  return kMeta;
}

const Schema& KindSchema(const ResourceInfo& res) {
  using namespace schema_parts;  // NOLINT: the schema builders of this file
  if (res.version == "v1beta1") return V1beta1KindSchema(res);
  static const std::map<std::string, SchemaPtr>* kSchemas = [] {
    auto* m = new std::map<std::string, SchemaPtr>();
    (*m)["Sandbox"] = SandboxSchema();
    (*m)["SandboxTemplate"] = SandboxTemplateSchema();
    (*m)["SandboxClaim"] = SandboxClaimSchema();
    (*m)["SandboxWarmPool"] = SandboxWarmPoolSchema();
    (*m)["Pod"] = PodSchema();
    (*m)["Service"] = ServiceSchema();
    (*m)["Namespace"] = NamespaceSchema();
    (*m)["Event"] = EventSchema();
    (*m)["Secret"] = SecretSchema();
    (*m)["PersistentVolumeClaim"] = PersistentVolumeClaimSchema();
    (*m)["PersistentVolume"] = PersistentVolumeSchema();
    (*m)["StorageClass"] = StorageClassSchema();
    (*m)["Deployment"] = WorkloadSchema();
    (*m)["StatefulSet"] = WorkloadSchema();
    return m;
  }();
  return SchemaOfKind(*kSchemas, res.kind);
}

}  // namespace asb::api
