// `asb-agent [FLAGS] -- ARGV...`: the agent beside a container process that is not the agent, so
// kubectl exec and the router's run() reach every pod of an OCI image, as a kubelet's exec runs
// a command in the container whatever its process is. The node starts pods this way when the
// image is its own server (declares ExposedPorts) or the container names a `command`
// (node/pod_spec.cc; docs/images.md "Kinds of image" has the opt-out).
//
// The calling process (pid 1 of the sandbox) forks ARGV, the workload, with the container's
// stdio, environment, working directory and credentials (execvp against PATH, as runsc and
// asb-init would), and forks the server, which returns to main() with its output sent to
// /dev/null (the container's log is the workload's alone; an early exit of the server is said
// there in one line) and its files API based in the working directory unless SANDBOX_BASE_DIR
// says otherwise (/app is rarely in an image, and a non-root USER cannot make it). It then is
// the workload's init: it reaps orphans, forwards the stop and user signals to the workload,
// and exits with the workload's status (128+signal when killed), which is the container's; the
// server dies with the pid namespace. A server that fails (say its port is taken) leaves the
// workload running. Under gVisor the workload starts inside the commands' task group
// (agent/spawn_setup.h), as asb-init gvisor-entry puts any process that is not the agent.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace asb::agent {

// Splits `args` at the first "--": what follows is the workload. Empty when there is none.
std::vector<std::string> TakeWorkload(std::vector<std::string>& args);

// With a workload: forks it and the server as above. The server child returns nullopt; the
// supervisor returns only when the workload has exited, with main()'s exit code. Call it while
// single-threaded, after AdoptCommandTaskGroup.
std::optional<int> RunSupervisor(const std::vector<std::string>& workload);

}  // namespace asb::agent
