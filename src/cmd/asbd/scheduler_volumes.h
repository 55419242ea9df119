// The scheduler's volume filter (kube-scheduler's VolumeBinding plugin, for asbd's node-local
// volumes, storage/provisioner.h): a pod whose PersistentVolumeClaim is bound to a volume pinned
// to a node (PV spec.nodeAffinity kubernetes.io/hostname In [N]), or selected for one while its
// volume is made there (`volume.kubernetes.io/selected-node`), goes to that node only. A claim
// not provisioned yet pins nothing: the node the pod is bound to provisions it
// (WaitForFirstConsumer).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/json_util.h"
#include "cmd/asbd/scheduler_fit.h"
#include "store/store.h"

namespace asb::asbd {

// `candidates` when `pod`'s claims pin it to no node (no claims: no reads); else the candidates
// on that node, in `*scratch`, and `reasons` counts the others ("node(s) had volume node
// affinity conflict"). A claim that doesn't exist pins nothing (the node reports it).
const std::vector<NodeCapacity>& VolumeCandidates(store::Store& store, const Json& pod,
                                                  const std::vector<NodeCapacity>& candidates,
                                                  std::vector<NodeCapacity>* scratch,
                                                  std::map<std::string, int>* reasons);

}  // namespace asb::asbd
