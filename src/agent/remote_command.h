// kubectl's remote command protocol, served by asb-agent inside the sandbox:
//
//   GET /v1/remotecommand?command=sh&command=-c&command=...&stdin=true&stdout=true&stderr=true
//       &tty=true            (WebSocket upgrade, subprotocol v5.channel.k8s.io or v4)
//
// The API server's pods/exec passes kubectl's WebSocket handshake through to this endpoint
// unchanged (node DialPod -> port 8888), so the session below talks to kubectl directly. The
// same endpoint works through the router.
//
// Each binary message starts with a channel byte: 0 stdin (client -> agent), 1 stdout, 2 stderr,
// 3 the final metav1.Status (Success, or Failure with reason NonZeroExitCode and the exit code
// in details.causes[ExitCode]), 4 terminal resize {"Width":W,"Height":H}, 255 (v5) "close
// stream": [255, 0] closes the command's stdin. After the status the agent sends a close frame.
//
// Lifetime: the command runs in its own process group. When the client goes away (close frame,
// EOF, reset) the group is SIGKILLed and reaped, so a dropped kubectl leaves nothing running.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/handlers.h"
#include "agent/interactive_process.h"
#include "base/json_util.h"
#include "http/message.h"

namespace asb::agent {

inline constexpr char kRemoteCommandPath[] = "/v1/remotecommand";

// Parses the query (command, stdin, stdout, stderr, tty) into process options; cwd from the
// exec service. Errors are 400 metav1.Status responses.
http::Response HandleRemoteCommand(const AgentServices& services, const http::Request& req,
                                   std::string_view rest);

// The final status message of a session (channel 3's payload).
Json RemoteCommandStatus(int exit_code);

// Runs one session on an upgraded socket until the command exited and its status was sent, or
// the client went away. `protocol` is the negotiated subprotocol.
void RunRemoteCommandSession(int fd, std::string pending, const InteractiveOptions& options,
                             const std::string& protocol);

}  // namespace asb::agent
