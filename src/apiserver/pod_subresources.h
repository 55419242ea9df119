// The streaming pod subresources kubectl uses against a sandbox pod (not part of the public API):
//
//   GET /api/v1/namespaces/NS/pods/NAME/exec?command=..&container=..&stdin&stdout&stderr&tty
//       WebSocket v5.channel.k8s.io. Validated here (pod, container, Running), then the
//       handshake goes through unchanged to asb-agent's /v1/remotecommand inside the sandbox
//       (PodStreams::DialPod, port 8888) and the upgraded bytes are relayed both ways: the agent
//       runs the session (PTY, resize, exit status), see agent/remote_command.h.
//   GET .../pods/NAME/attach?container=..&stdout&stderr    WebSocket v5: the container's output
//       from now on, on channel 1 (the main process has no stdin to attach to).
//   GET .../pods/NAME/log?container&follow&tailLines&sinceSeconds&sinceTime&timestamps
//       &previous&limitBytes     text/plain; with follow a chunked stream of new lines.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <string_view>

#include "apiserver/api_server.h"
#include "apiserver/internal.h"
#include "apiserver/pod_streams.h"
#include "http/message.h"
#include "store/store.h"

namespace asb::apiserver::internal {

// The port asb-agent serves inside every sandbox of the built-in image.
inline constexpr uint16_t kAgentPort = 8888;

// The pod and the container a streaming request addresses: ?container= or the pod's only/first
// container. 404 for a missing pod, 400 BadRequest for an unknown container.
struct PodContainer {
  Json pod;
  std::string container;
};
Result<PodContainer> FindPodContainer(store::Store& store, const http::Request& req,
                                      const std::string& ns, const std::string& name);
// 400 unless the pod is Running and the container's state is running.
Result<bool> RequireRunning(const PodContainer& pc, const std::string& verb);

http::Response ServePodExec(store::Store& store, PodStreams* streams, http::Request& req,
                            const std::string& ns, const std::string& name);
http::Response ServePodAttach(store::Store& store, PodStreams* streams,
                              const std::atomic<bool>& shutting_down, http::Request& req,
                              const std::string& ns, const std::string& name);
http::Response ServePodLog(store::Store& store, PodStreams* streams,
                           const std::atomic<bool>& shutting_down, http::Request& req,
                           const std::string& ns, const std::string& name);

// The part of pods/log after the pod and container were found: the output PodStreams::LogFiles
// names, per req's query (follow, tailLines, ...). `phase` is the pod's status.phase (a Pending
// pod without output is "waiting to start"). What `asbd node` serves at /containerLogs too.
http::Response ServeLogFiles(PodStreams& streams, const std::atomic<bool>& shutting_down,
                             const http::Request& req, const std::string& ns,
                             const std::string& name, const std::string& container,
                             std::string_view phase);

// Where a reader of a container's log file is. A fresh cursor reads everything kept: the older
// half <path>.1 (runtime.h: the runtime renames the full file) and then <path>.
struct LogCursor {
  bool started = false;
  off_t offset = 0;
  ino_t inode = 0;
};
// What was appended to log file `path` since `cursor` (at most 64 MiB, from the tail), following
// a rotation (the rest of the old file, now <path>.1, then the new one) or a truncation.
std::string ReadLogFrom(const std::string& path, LogCursor& cursor);
// The text of the complete lines in `data`, timestamps removed; consumes them from `data`.
std::string LogText(std::string& data);

// Copies bytes both ways between two connected sockets until both directions ended (EOF on one
// side is passed on as a write shutdown of the other). `a_pending`/`b_pending` are bytes
// already read from a and b, written to the other side first.
void RelaySockets(int a, std::string a_pending, int b, std::string b_pending);

}  // namespace asb::apiserver::internal
