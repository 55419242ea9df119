#include "node/simulated_node.h"

#include "runtime/simulated/simulated_runtime.h"

namespace asb::node {

namespace {

constexpr char kSimulatedScheme[] = "simulated://";

// The first containerID of a container that ran in a real sandbox, or "".
std::string RealContainerId(const Json& pod) {
  const Json* statuses = Find(pod, "status.containerStatuses");
  if (statuses == nullptr || !statuses->is_array()) return "";
  for (const Json& c : *statuses) {
    std::string id = GetString(c, "containerID");
    if (!id.empty() && id.rfind(kSimulatedScheme, 0) != 0) return id;
  }
  return "";
}

}  // namespace

Result<bool> IsSimulatedNode(const std::vector<runtime::Runtime*>& runtimes) {
  size_t simulated = 0;
  for (const runtime::Runtime* rt : runtimes) simulated += rt->simulated() ? 1 : 0;
  if (simulated != 0 && simulated != runtimes.size())
    return MakeError(Code::kInvalidArgument,
                     "node options: a node runs simulated sandboxes or real ones, never both");
  return simulated != 0;
}

Status CheckPodsMatchMode(const std::vector<Json>& pods, const std::string& node, bool simulated) {
  for (const Json& pod : pods) {
    if (GetString(pod, "spec.nodeName") != node) continue;
    // Mirror pods stand for asbd's in-process components; the node runs none of them.
    const Json* ann = Find(pod, "metadata.annotations");
    if (ann && ann->is_object() && ann->contains("kubernetes.io/config.mirror")) continue;
    const std::string key =
        GetString(pod, "metadata.namespace") + "/" + GetString(pod, "metadata.name");
    if (simulated) {
      if (std::string id = RealContainerId(pod); !id.empty())
        return MakeError(Code::kFailedPrecondition,
                         "node " + node + " is simulated (--simulate) but pod " + key +
                             " ran in a real sandbox (" + id +
                             "): a simulated node never runs beside real sandboxes; use a fresh "
                             "state dir or start without --simulate");
    } else if (IsMarkedSimulated(pod)) {
      return MakeError(Code::kFailedPrecondition,
                       "pod " + key + " on node " + node +
                           " was only simulated (--simulate) and never ran: start with "
                           "--simulate to delete such pods, or use a fresh state dir");
    }
  }
  return OkStatus();
}

void MarkSimulated(Json& pod) {
  Json& meta = pod["metadata"];
  if (!meta.contains("annotations") || !meta["annotations"].is_object())
    meta["annotations"] = Json::object();
  meta["annotations"][runtime::kSimulatedAnnotation] = "true";
}

bool IsMarkedSimulated(const Json& pod) {
  const Json* ann = Find(pod, "metadata.annotations");
  return ann != nullptr && ann->is_object() &&
         ann->value(runtime::kSimulatedAnnotation, Json()) == Json("true");
}

}  // namespace asb::node
