// The three patch formats of the Kubernetes API, over unstructured JSON:
//   - JSON merge patch (RFC 7386, application/merge-patch+json): what kubectl apply sends for
//     custom kinds;
//   - strategic merge patch (application/strategic-merge-patch+json): what kubectl sends for
//     Pods, Services and Namespaces. Lists with a merge key in the schema tree (containers by
//     name, ports by containerPort, env by name, ...) are merged element-wise; other lists are
//     replaced. Directives supported: $patch: replace|delete (maps and list elements),
//     $setElementOrder/<list>, $deleteFromPrimitiveList/<list>, $retainKeys. See docs/api.md.
//   - JSON patch (RFC 6902, application/json-patch+json).
// Pure functions; thread-safe.
#pragma once

#include "api/schema.h"
#include "base/json_util.h"
#include "base/result.h"

namespace asb::api {

// kInvalidArgument when the patch is not a JSON object (Kubernetes objects are objects).
[[nodiscard]] Result<Json> ApplyMergePatch(const Json& original, const Json& patch);
// `schema` gives list merge keys; nullptr treats every list as atomic. kInvalidArgument on a
// malformed directive.
[[nodiscard]] Result<Json> ApplyStrategicMergePatch(const Json& original, const Json& patch,
                                                    const Schema* schema);
// kInvalidArgument on a malformed patch or a failed "test"/missing path.
[[nodiscard]] Result<Json> ApplyJsonPatch(const Json& original, const Json& patch);

}  // namespace asb::api
