#include "storage/volume_binds.h"

#include <map>

#include "api/storage.h"
#include "controller/store_ops.h"

namespace asb::storage {

Result<std::vector<runtime::BindMount>> PodVolumeBinds(store::Store& store, LocalVolumes& volumes,
                                                       const Json& pod) {
  // volume name -> {claim name, read-only}
  std::map<std::string, std::pair<std::string, bool>> claims;
  if (const Json* vols = Find(pod, "spec.volumes"); vols && vols->is_array()) {
    for (const Json& v : *vols) {
      const Json* src = Find(v, "persistentVolumeClaim");
      if (!src || !src->is_object()) continue;
      const Json* ro = Find(*src, "readOnly");
      claims[GetString(v, "name")] = {GetString(*src, "claimName"),
                                      ro && ro->is_boolean() && ro->get<bool>()};
    }
  }
  std::vector<runtime::BindMount> out;
  if (claims.empty()) return out;
  const Json* containers = Find(pod, "spec.containers");
  if (!containers || !containers->is_array() || containers->empty()) return out;
  const Json* mounts = Find((*containers)[0], "volumeMounts");
  if (!mounts || !mounts->is_array()) return out;
  const std::string ns = GetString(pod, "metadata.namespace");
  for (const Json& m : *mounts) {
    auto it = claims.find(GetString(m, "name"));
    if (it == claims.end()) continue;
    const std::string& claim_name = it->second.first;
    if (!GetString(m, "subPath").empty() || !GetString(m, "subPathExpr").empty())
      return MakeError(Code::kInvalidArgument,
                       "volumeMount " + GetString(m, "name") + ": subPath is not supported");
    ASB_ASSIGN_OR_RETURN(
        std::optional<store::Object> claim,
        controller::GetIfExists(store, api::PersistentVolumeClaimResource(), ns, claim_name));
    if (!claim)
      return MakeError(Code::kUnavailable,
                       "persistentvolumeclaim \"" + claim_name + "\" not found");
    const std::string pv_name = GetString(*claim, "spec.volumeName");
    if (GetString(*claim, "status.phase") != "Bound" || pv_name.empty())
      return MakeError(Code::kUnavailable,
                       "persistentvolumeclaim \"" + claim_name + "\" is not bound yet");
    ASB_ASSIGN_OR_RETURN(
        std::optional<store::Object> pv,
        controller::GetIfExists(store, api::PersistentVolumeResource(), "", pv_name));
    // The volume must have been made for this very claim (uid), not merely be named by it.
    if (!pv || GetString(*pv, "spec.claimRef.uid") != GetString(*claim, "metadata.uid"))
      return MakeError(Code::kUnavailable, "persistentvolumeclaim \"" + claim_name +
                                               "\" is not bound to a volume made for it");
    if (!volumes.Exists(pv_name))
      return MakeError(Code::kInvalidArgument,
                       "persistentvolume \"" + pv_name + "\" is not a local volume of this node");
    ASB_ASSIGN_OR_RETURN(std::string host, volumes.Mount(pv_name));
    const Json* ro = Find(m, "readOnly");
    runtime::BindMount b;
    b.host_path = host;
    b.sandbox_path = GetString(m, "mountPath");
    b.read_only = it->second.second || (ro && ro->is_boolean() && ro->get<bool>());
    b.sandbox_owned = true;
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace asb::storage
