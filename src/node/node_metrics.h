// The node's sandbox latency metrics, by runtime class ("native", "gvisor"):
//   asb_node_sandbox_start_duration_seconds{runtime}  Runtime::Start, to the sandbox running
//   asb_node_sandbox_stop_duration_seconds{runtime}   stopping a deleted pod's sandbox
#pragma once

#include <chrono>
#include <string_view>

namespace asb::node {

void RecordSandboxStart(std::string_view runtime, std::chrono::steady_clock::duration took);
void RecordSandboxStop(std::string_view runtime, std::chrono::steady_clock::duration took);

}  // namespace asb::node
