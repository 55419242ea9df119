// What the API server needs from the node for the streaming pod subresources (pods/exec,
// pods/attach, pods/log). asbd implements it over its node agent; unset (tests of the REST
// dialect alone), those subresources answer 503.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/json_util.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "http/message.h"

namespace asb::apiserver {

// Where a container's output is kept: the running (or last) instance and the one before the
// last restart (empty when there was none). The files are in the CRI logging format
// ("<RFC3339> stdout F <text>", runtime/runtime.h), with an older half at <current>.1; lines
// without a timestamp are served as they are.
struct PodLogFiles {
  std::string current;
  std::string previous;
  bool running = false;  // the container runs (more output may come: `logs -f` keeps waiting)
};

class PodStreams {
 public:
  virtual ~PodStreams() = default;
  // A connection to `port` inside pod ns/name's sandbox (exec, attach, port-forward all dial
  // here). kNotFound (not on this node), kUnavailable (not running), dial errors.
  [[nodiscard]] virtual Result<UniqueFd> DialPod(const std::string& ns, const std::string& pod,
                                                 uint16_t port) = 0;
  // The output files of pod ns/name (its one container). kNotFound when the node has none.
  [[nodiscard]] virtual Result<PodLogFiles> LogFiles(const std::string& ns,
                                                     const std::string& pod) = 0;
  // pods/log of a pod whose output another process keeps (bound to another node): that node's
  // answer to req. nullopt (the default): this process's node has it, see LogFiles.
  [[nodiscard]] virtual std::optional<http::Response> RemoteLog(const Json& /*pod*/,
                                                                const std::string& /*container*/,
                                                                const http::Request& /*req*/) {
    return std::nullopt;
  }
};

}  // namespace asb::apiserver
