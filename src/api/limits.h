// Size limits every stored object obeys, as Kubernetes sets them, checked by the API server
// after decoding (and after a patch is applied) and before validation or the store see the
// object. The request body limit itself (3 MiB, 413) belongs to the HTTP server.
#pragma once

#include <cstddef>

#include "base/json_util.h"
#include "base/result.h"

namespace asb::api {

// etcd's default request limit, which bounds one Kubernetes object.
inline constexpr size_t kMaxObjectBytes = 1536 * 1024;
// Kubernetes' TotalAnnotationSizeLimitB: the keys and values of all annotations together.
inline constexpr size_t kMaxAnnotationsBytes = 256 * 1024;
// kube-apiserver's maxJSONPatchOperations.
inline constexpr size_t kMaxJsonPatchOperations = 10000;
// Values a JSON patch's copy operations may add, all together (the patch library's
// AccumulatedCopySizeLimit, counted in values rather than bytes).
inline constexpr size_t kMaxJsonPatchCopiedValues = 1 << 20;

// kInvalidArgument when `obj` nests deeper than kMaxJsonDepth; kResourceExhausted when its JSON
// encoding is larger than kMaxObjectBytes. The depth walk is iterative, so any object is safe
// to check.
[[nodiscard]] Status CheckObjectLimits(const Json& obj);

}  // namespace asb::api
