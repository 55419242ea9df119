// Recovery: what the node agent does once at start-up with the sandboxes an earlier asbd left
// running, so nothing leaks across restarts. For every sandbox each runtime lists:
//   - a live pod of ours (bound here, not being deleted, not finished) that wants this runtime:
//     still running -> re-adopted; dead -> removed, and the pod starts again as a restart;
//   - a pod being deleted: left alone (its deletion is a normal sync, with its own grace);
//   - anything else (no such pod, another node, another runtime, finished): stopped within
//     orphan_grace.
// The caller turns the result into pod records; Recovery itself keeps no state.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"
#include "node/runtime_set.h"
#include "runtime/runtime.h"

namespace asb::node {

struct RecoveredSandbox {
  const Json* pod = nullptr;  // into the pods passed to Run
  runtime::Runtime* runtime = nullptr;
  std::string sandbox_id;
  // Set when the sandbox still runs (re-adopt it); unset when it was dead and has been removed.
  std::optional<runtime::SandboxStatus> running;
};

class Recovery {
 public:
  Recovery(const RuntimeSet& runtimes, std::string node_name,
           std::chrono::milliseconds orphan_grace)
      : runtimes_(runtimes), node_name_(std::move(node_name)), orphan_grace_(orphan_grace) {}

  // `pods` is every pod in the store. Errors: a runtime's List failing (a failed Stop is logged
  // and skipped: the sandbox stays listed for the next start).
  [[nodiscard]] Result<std::vector<RecoveredSandbox>> Run(const std::vector<Json>& pods) const;

 private:
  // The runtime a live pod of ours wants its sandbox in; nullptr when none does.
  runtime::Runtime* Wanted(const Json* pod) const;

  const RuntimeSet& runtimes_;
  std::string node_name_;
  std::chrono::milliseconds orphan_grace_;
};

}  // namespace asb::node
