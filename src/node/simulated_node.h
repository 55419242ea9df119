// A node runs simulated sandboxes (runtime/simulated, `asbd --simulate`, scale tests only) or
// real ones, never both, so no isolation or behaviour test can run against a simulation and no
// real sandbox is ever mistaken for a record. The node agent checks it at Start: its runtimes
// must agree, and the pods bound to it must have run in the same mode (a state dir used with
// --simulate holds pods that never ran; one used without it may hold live sandboxes the
// simulation would not see). Pods a simulated node runs say so (kSimulatedAnnotation, and
// containerID simulated://).
#pragma once

#include <string>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"
#include "runtime/runtime.h"

namespace asb::node {

// Whether these runtimes make a simulated node. kInvalidArgument when they mix simulated and real.
[[nodiscard]] Result<bool> IsSimulatedNode(const std::vector<runtime::Runtime*>& runtimes);

// kFailedPrecondition naming the first pod bound to `node` that ran in the other mode.
[[nodiscard]] Status CheckPodsMatchMode(const std::vector<Json>& pods, const std::string& node,
                                        bool simulated);

// Marks `pod` as run by a simulated node (sent in the write that adds the node's finalizer).
void MarkSimulated(Json& pod);
bool IsMarkedSimulated(const Json& pod);

}  // namespace asb::node
