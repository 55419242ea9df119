// How every long-running asbd process (serve and each role, the conversion webhook) stops:
// SIGINT and SIGTERM are blocked in every thread, so the one thread that waits for them decides
// the order of the shutdown, and SIGPIPE is ignored (a peer's closed socket is an error return).
#pragma once

#include <csignal>

namespace asb::asbd {

// Call before any thread starts: threads inherit the mask. Returns the set to wait on.
sigset_t BlockStopSignals();

// Blocks until SIGINT or SIGTERM arrives; returns it.
int WaitForStopSignal(const sigset_t& set);

// Whether a stop signal is already pending (for loops that run before the wait).
bool StopSignalPending();

}  // namespace asb::asbd
