#include "node/pool_member.h"

namespace asb::node {

bool IsUnclaimedPoolMember(const Json& pod) {
  // The label's name (controller/object_util.h kLabelWarmPoolSandbox, which the node does not
  // depend on); its value is the pool's name hash.
  const Json* labels = Find(pod, "metadata.labels");
  return labels != nullptr && labels->is_object() &&
         labels->contains("agents.x-k8s.io/warm-pool-sandbox");
}

}  // namespace asb::node
