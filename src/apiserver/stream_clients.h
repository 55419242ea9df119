// What the API server knows about streaming clients' quirks, from their User-Agent.
#pragma once

#include <chrono>
#include <string_view>

namespace asb::apiserver::internal {

// kubectl and other client-go programs before 1.34 start reading an exec's WebSocket frames
// while they are still creating their streams, and drop a frame for a stream they have not
// made yet ("Unknown stream id 1, discarding message": output lost, the exit code kept).
// client-go fixed it in "make sure all streams are created before starting demux websocket"
// (v0.34). True for a User-Agent of that family (`<name>/<version> (<os>/<arch)
// kubernetes/<commit>`) older than 1.34, or whose version is not a release (a client-go
// library build says v0.0.0); false for everyone else (the Python clients, browsers, tools).
bool DropsEarlyExecFrames(std::string_view user_agent);

// How long such a client may take to make its streams after the 101; the sandbox's output is
// held that long at most (less when the client speaks first: stdin or a resize comes only from
// made streams). A scheduler tick or two on a busy machine.
inline constexpr std::chrono::milliseconds kEarlyFrameSettle{10};

}  // namespace asb::apiserver::internal
