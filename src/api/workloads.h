// How embedded asbd answers kinds it stores but has no controller of its own for: Deployments,
// StatefulSets and CustomResourceDefinitions from upstream's release manifests and the seed's
// sandbox-router.yaml.
//
//   - A Deployment or StatefulSet whose pod template runs upstream's controller or router image
//     is served by asbd's embedded component of that name (asbd shows mirror pods for it and
//     reports its availability: cmd/asbd/mirror_pods.h).
//   - Any other workload is stored as given and answered with a Kubernetes `Warning` header
//     saying embedded asbd does not run it (kubectl prints "Warning: ...").
//   - A CRD is accepted when its group and kind are ones asbd serves natively (it is then
//     Established at once); a CRD for any other kind is refused with a field error, because
//     asbd cannot serve arbitrary custom resources.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/field_error.h"
#include "api/resource.h"
#include "base/json_util.h"

namespace asb::api {

enum class EmbeddedComponent { kNone, kController, kRouter };

// "controller", "router" or "".
std::string_view ComponentName(EmbeddedComponent c);

// The component an image reference names: upstream's controller image
// (`.../agent-sandbox/agent-sandbox-controller[:tag]`, also the `ko://` placeholder of its
// manifests) or router image (`.../agent-sandbox/sandbox-router[:tag]`), whatever the registry.
EmbeddedComponent ComponentForImage(std::string_view image);

// The component a Deployment/StatefulSet's pod template runs (its first container that names
// one), or kNone.
EmbeddedComponent ComponentForWorkload(const Json& workload);

// True for the workload kinds (apps/v1 Deployment, StatefulSet).
bool IsWorkloadKind(const ResourceInfo& res);

// Admission for stored-only kinds, run on every create/update after validation: appends the
// Warning texts for `obj` (a workload asbd does not run) and fills a CRD's status. Returns field
// errors for a CRD asbd cannot serve.
FieldErrors AdmitStoredOnly(const ResourceInfo& res, Json& obj, std::vector<std::string>* warnings);

}  // namespace asb::api
