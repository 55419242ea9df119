// Pod rules shared by Pods and the pod templates of Sandboxes and SandboxTemplates: containers,
// resource quantities, and which fields a Pod update may change. Messages are Kubernetes' own.
// Pure functions over unstructured JSON; thread-safe.
#pragma once

#include <string>

#include "api/field_error.h"
#include "base/json_util.h"

namespace asb::api {

// How a kind reports a bad quantity. Pods use core validation
// (spec.containers[0].resources.limits[cpu] ... quantities must match the regular expression);
// custom resources (Sandbox, SandboxTemplate) get the CRD schema's pattern error on the dotted path
// (spec.podTemplate.spec.containers[0].resources.limits.cpu ... in body should match '...').
enum class QuantityStyle { kCore, kCustomResource };

// Checks a pod spec at `path` ("spec" or "spec.podTemplate.spec"): containers present, names
// unique DNS labels, images set, ports in range, resource quantities well formed and >= 0.
void ValidatePodSpec(const Json& spec, const std::string& path, QuantityStyle style,
                     FieldErrors* out);

// The fields of a Pod's spec an update may change, as Kubernetes allows: container and init
// container images, activeDeadlineSeconds, added tolerations, terminationGracePeriodSeconds from
// negative to 1, and nodeName from empty (binding). Anything else is one Forbidden on "spec".
FieldErrors ValidatePodUpdate(const Json& old_pod, const Json& new_pod);

}  // namespace asb::api
