#include "cmd/asbd/scheduler_volumes.h"

#include "api/resource.h"
#include "api/storage.h"
#include "controller/object_util.h"
#include "storage/provisioner.h"

namespace asb::asbd {

const std::vector<NodeCapacity>& VolumeCandidates(store::Store& store, const Json& pod,
                                                  const std::vector<NodeCapacity>& candidates,
                                                  std::vector<NodeCapacity>* scratch,
                                                  std::map<std::string, int>* reasons) {
  const Json* vs = Find(pod, "spec.volumes");
  if (!vs || !vs->is_array()) return candidates;
  const std::string ns = GetString(pod, "metadata.namespace");
  std::string pinned;
  bool conflict = false;  // two claims on two nodes: no node has both
  for (const Json& v : *vs) {
    std::string name = GetString(v, "persistentVolumeClaim.claimName");
    if (name.empty()) continue;
    auto claim = store.Get(api::PersistentVolumeClaimResource(), ns, name);
    if (!claim) continue;
    std::string node;
    if (std::string pv = GetString(*claim, "spec.volumeName"); !pv.empty()) {
      if (auto vol = store.Get(api::PersistentVolumeResource(), "", pv))
        node = storage::VolumeNodeAffinity(*vol);
    }
    if (node.empty())
      node = controller::Annotation(*claim, storage::kSelectedNodeAnnotation).value_or("");
    if (node.empty()) continue;
    if (!pinned.empty() && pinned != node) conflict = true;
    pinned = node;
  }
  if (pinned.empty()) return candidates;
  scratch->clear();
  for (const NodeCapacity& n : candidates) {
    if (!conflict && n.name == pinned)
      scratch->push_back(n);
    else
      ++(*reasons)["node(s) had volume node affinity conflict"];
  }
  return *scratch;
}

}  // namespace asb::asbd
