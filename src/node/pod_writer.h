// PodWriter: the node agent's writes to pods in the store — binding, the teardown finalizer, and
// status — each a single update on the object the caller read, so a write that lost a race fails
// with kAborted and the caller re-reads (level-triggered). Thread-safe as far as the store is.
#pragma once

#include <string>

#include "base/clock.h"
#include "base/json_util.h"
#include "base/result.h"
#include "node/pod_status.h"
#include "store/store.h"

namespace asb::node {

// The finalizer the node puts on every pod before starting its sandbox; removed after the
// sandbox is stopped, so a pod never disappears from the store while its sandbox still runs.
inline constexpr char kSandboxFinalizer[] = "agents.asb.dev/sandbox-teardown";

bool HasSandboxFinalizer(const Json& pod);

class PodWriter {
 public:
  explicit PodWriter(store::Store& store) : store_(store) {}

  // spec.nodeName = node (this is the only node: the node schedules pods nobody bound). Returns
  // the updated pod.
  [[nodiscard]] Result<Json> Bind(Json pod, const std::string& node);
  // Adds kSandboxFinalizer. Returns the updated pod.
  [[nodiscard]] Result<Json> AddFinalizer(Json pod);
  // Removes kSandboxFinalizer from pod ns/name if it is still the pod with `uid` (retrying
  // conflicts). A pod that is gone is no error.
  [[nodiscard]] Status RemoveFinalizer(const std::string& ns, const std::string& name,
                                       const std::string& uid);
  // Writes the status computed from `view` if it differs from the stored one; `pod` becomes the
  // stored object. A pod that is gone is no error; kAborted on a write conflict.
  [[nodiscard]] Status WriteStatus(Json& pod, const PodView& view, SystemTime now);

 private:
  store::Store& store_;
};

}  // namespace asb::node
