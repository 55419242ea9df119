// core/v1 Secret: namespaced, no spec, no status. What the API server does with one as
// kube-apiserver does:
//   - `stringData` (write-only, plain strings) is merged into `data` (base64) on every write and
//     never stored, a stringData key winning over the same data key;
//   - `data` keys are config keys ([-._a-zA-Z0-9]+, not "." or "..") and values strict base64,
//     1 MiB in all; a bad value is reported without echoing it ("<secret contents redacted>");
//   - `type` defaults to Opaque; the well-known types require their keys
//     (kubernetes.io/dockerconfigjson: ".dockerconfigjson" holding JSON, kubernetes.io/tls:
//     tls.crt and tls.key, ...); `type` never changes and an `immutable` Secret keeps its data;
//   - tables show NAME, TYPE, DATA (the number of keys), AGE: never a value.
// The node reads `kubernetes.io/dockerconfigjson` (and legacy `kubernetes.io/dockercfg`) Secrets
// a pod names in imagePullSecrets (DockerConfigOf). Pure; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "api/field_error.h"
#include "api/resource.h"
#include "api/schema.h"
#include "base/json_util.h"
#include "base/result.h"

namespace asb::api {

inline constexpr char kSecretTypeOpaque[] = "Opaque";
inline constexpr char kSecretTypeDockerConfigJson[] = "kubernetes.io/dockerconfigjson";
inline constexpr char kSecretTypeDockerCfg[] = "kubernetes.io/dockercfg";
inline constexpr char kDockerConfigJsonKey[] = ".dockerconfigjson";
inline constexpr char kDockerCfgKey[] = ".dockercfg";
// corev1.MaxSecretSize: the sum of the decoded values.
inline constexpr size_t kMaxSecretBytes = 1u << 20;

SchemaPtr SecretSchema();
const ResourceInfo& SecretResource();

// Moves `stringData` into `data` (base64-encoding each value). Leaves an object whose stringData
// is not a map of strings alone, for the schema to report.
void MergeStringData(Json& secret);
// The semantic checks above (after MergeStringData).
void ValidateSecret(const Json& secret, FieldErrors* out);
// `type` is immutable; an `immutable: true` Secret keeps its data and stays immutable.
FieldErrors ValidateSecretUpdate(const Json& old_secret, const Json& new_secret);

// The .dockerconfigjson document of a pull secret ({"auths":{...}}; a legacy .dockercfg is
// wrapped into that form). nullopt for a Secret of another type. kInvalidArgument when its data
// can't be decoded.
[[nodiscard]] Result<std::optional<std::string>> DockerConfigOf(const Json& secret);

}  // namespace asb::api
