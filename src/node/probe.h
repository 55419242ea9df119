// One readiness probe attempt against a running sandbox, from the host side: httpGet and
// tcpSocket dial the port inside the sandbox's network namespace (Runtime::DialPort), exec runs
// the command inside it (Runtime::Exec). Blocking, bounded by the probe's timeoutSeconds.
#pragma once

#include <string>

#include "node/pod_spec.h"
#include "runtime/runtime.h"

namespace asb::node {

struct ProbeOutcome {
  bool success = false;
  std::string message;  // why it failed, for logs
};

// Thread-safe as far as the runtime is.
ProbeOutcome RunProbe(runtime::Runtime& runtime, const std::string& sandbox_id,
                      const ProbeSpec& probe);

}  // namespace asb::node
