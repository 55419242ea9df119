// The storage kinds: core/v1 PersistentVolumeClaim (namespaced, status subresource) and
// PersistentVolume (cluster-scoped), storage.k8s.io/v1 StorageClass (cluster-scoped, no spec).
// Their schemas (OpenAPI, kubectl explain, strict decoding), the semantic checks a schema can't
// say (a storage request that is a positive quantity, known access modes), and the small views
// the controller, the provisioner and the table printer share. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "api/field_error.h"
#include "api/resource.h"
#include "api/schema.h"
#include "base/json_util.h"

namespace asb::api {

inline constexpr char kStorageGroup[] = "storage.k8s.io";
// The annotation that makes a StorageClass the default one (PVCs without storageClassName get it).
inline constexpr char kDefaultClassAnnotation[] = "storageclass.kubernetes.io/is-default-class";

SchemaPtr PersistentVolumeClaimSchema();
SchemaPtr PersistentVolumeSchema();
SchemaPtr StorageClassSchema();
// The spec of a PVC, shared with the Sandbox/Template/Claim volumeClaimTemplates.
SchemaPtr PersistentVolumeClaimSpecSchema();

// Semantic checks of a PersistentVolumeClaimSpec at `path` (a PVC's "spec", or
// "spec.volumeClaimTemplates[0].spec"): accessModes non-empty and known, resources.requests.storage
// required and a quantity > 0, storageClassName a DNS subdomain when set.
void ValidateClaimSpec(const Json& spec, const std::string& path, FieldErrors* out);
// Per-kind semantic checks of the storage kinds (no-op for others).
void ValidateStorageObject(const ResourceInfo& res, const Json& obj, FieldErrors* out);
// Checks of a volumeClaimTemplates list at `path` (names set and unique, each spec as above).
void ValidateVolumeClaimTemplates(const Json& vcts, const std::string& path, FieldErrors* out);

// Bytes of resources.requests.storage in a PVC spec; 0 when absent or not a quantity.
int64_t RequestedStorageBytes(const Json& claim_spec);
// "RWO,RWX" as kubectl prints accessModes.
std::string AccessModesShort(const Json* modes);
// Whether the StorageClass carries the default-class annotation set to "true".
bool IsDefaultClass(const Json& storage_class);

const ResourceInfo& PersistentVolumeClaimResource();
const ResourceInfo& PersistentVolumeResource();
const ResourceInfo& StorageClassResource();

}  // namespace asb::api
