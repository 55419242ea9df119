// Helpers for unstructured Kubernetes objects used by the reconcilers: keys, labels and
// annotations (whose keys contain dots, so base/json_util.h's dotted Find can't reach them),
// owner references, timestamps, and the agent-sandbox label/annotation vocabulary.
// Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/object_meta.h"
#include "api/resource.h"
#include "base/clock.h"
#include "base/json_util.h"

namespace asb::controller {

// Labels and annotations set or read by the controllers (upstream-agent-sandbox.md §1.8).
inline constexpr std::string_view kLabelSandboxNameHash = "agents.x-k8s.io/sandbox-name-hash";
inline constexpr std::string_view kAnnotationPodName = "agents.x-k8s.io/pod-name";
inline constexpr std::string_view kAnnotationPropagatedLabels = "agents.x-k8s.io/propagated-labels";
inline constexpr std::string_view kAnnotationPropagatedAnnotations =
    "agents.x-k8s.io/propagated-annotations";
inline constexpr std::string_view kAnnotationTemplateRef = "agents.x-k8s.io/sandbox-template-ref";
inline constexpr std::string_view kLabelTemplateRefHash =
    "agents.x-k8s.io/sandbox-template-ref-hash";
inline constexpr std::string_view kLabelWarmPoolSandbox = "agents.x-k8s.io/warm-pool-sandbox";
inline constexpr std::string_view kLabelLaunchType = "agents.x-k8s.io/launch-type";
inline constexpr std::string_view kLabelCreatedBy = "agents.x-k8s.io/created-by";
inline constexpr std::string_view kLabelClaimUid = "agents.x-k8s.io/claim-uid";
inline constexpr std::string_view kAnnotationTraceContext = "opentelemetry.io/trace-context";
inline constexpr std::string_view kLaunchWarm = "warm";
inline constexpr std::string_view kLaunchCold = "cold";
inline constexpr std::string_view kCreatedByController = "controller";
// Reserved prefixes filtered out of user pod-template metadata (threat model: users must not
// spoof the controllers' tracking labels).
inline constexpr std::string_view kReservedPrefix = "agents.x-k8s.io/";
inline constexpr std::string_view kReservedExtensionsPrefix = "extensions.agents.x-k8s.io/";

// Whether an object is being deleted: the one rule (api/object_meta.h) the store and the node use.
using api::IsDeleting;

// FNV-1a 32-bit of `name` as lowercase hex without padding (Go's fmt "%x" of fnv.New32a), the
// value of sandbox-name-hash, warm-pool-sandbox and sandbox-template-ref-hash.
std::string NameHash(std::string_view name);
bool IsReservedKey(std::string_view key);

// "namespace/name" and back.
std::string MakeKey(std::string_view ns, std::string_view name);
std::string KeyOf(const Json& obj);
// Splits "ns/name"; false when there is no '/'.
bool SplitKey(const std::string& key, std::string* ns, std::string* name);

std::string Name(const Json& obj);
std::string Namespace(const Json& obj);
std::string Uid(const Json& obj);
int64_t Generation(const Json& obj);
std::optional<SystemTime> CreationTime(const Json& obj);

// metadata.labels / metadata.annotations as a map (non-string values are skipped).
std::map<std::string, std::string> StringMap(const Json* obj);
std::map<std::string, std::string> Labels(const Json& obj);
std::map<std::string, std::string> Annotations(const Json& obj);
std::optional<std::string> Label(const Json& obj, std::string_view key);
std::optional<std::string> Annotation(const Json& obj, std::string_view key);
void SetLabel(Json& obj, std::string_view key, std::string_view value);
void SetAnnotation(Json& obj, std::string_view key, std::string_view value);
void RemoveLabel(Json& obj, std::string_view key);
Json MapToJson(const std::map<std::string, std::string>& m);

// Owner references.
struct OwnerRef {
  std::string api_version, kind, name, uid;
};
// The controller=true owner reference, if any.
std::optional<OwnerRef> ControllerRef(const Json& obj);
bool IsControlledBy(const Json& obj, const Json& owner);
// {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true} for `owner`.
Json MakeControllerRef(const api::ResourceInfo& owner_res, const Json& owner);
// Replaces any controller reference with `ref` (non-controller references are kept).
void SetControllerRef(Json& obj, const Json& ref);

// Condition helpers over status.conditions[].
const Json* FindCondition(const Json& obj, std::string_view type);
// True when condition `type` has status "True".
bool ConditionTrue(const Json& obj, std::string_view type);

}  // namespace asb::controller
