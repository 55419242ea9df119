// Resuming a blob download that broke mid-body (a connection reset, a registry restart, a proxy
// timeout): the next request asks for `Range: bytes=N-` and the reply decides how its body
// continues the bytes already hashed and handed on. Pure functions, so the decision is tested
// without a network; RegistryClient::StreamBlob runs the loop.
//
//   206 whose Content-Range starts at N      append the body
//   206 starting before N                    drop the overlap, append the rest
//   206 starting after N, or a total that    fail: a gap, or not the manifest's blob
//     differs from the manifest's size
//   200 (the server ignored Range, or        drop the first N bytes of the whole body, append
//     If-Range no longer matched)              the rest. Restarting instead would mean
//                                              restarting the unpacker, which has consumed
//                                              them; dropping costs N bytes of download once.
// The digest check at the end is the safety net for all of it: whatever the reply claimed, the
// bytes handed on must hash to the manifest's digest or the layer is thrown away.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace asb::image::registry {

struct ContentRange {
  int64_t first = 0;
  int64_t last = 0;              // inclusive
  std::optional<int64_t> total;  // nullopt for "*"
};

// "bytes FIRST-LAST/TOTAL" or "bytes FIRST-LAST/*" (RFC 9110 14.4). kInvalidArgument otherwise.
[[nodiscard]] Result<ContentRange> ParseContentRange(std::string_view value);

// How many bytes at the start of a 2xx reply's body to drop so that it continues a blob of
// `size` bytes at offset `have`. `content_range` is the reply's header, if any.
// kFailedPrecondition (a reply that cannot continue the blob), naming why.
[[nodiscard]] Result<int64_t> BytesToSkip(int status,
                                          const std::optional<std::string>& content_range,
                                          int64_t have, int64_t size);

// Bounds on one blob's download: kMaxBlobAttempts requests in all, and at most
// kMaxStalledAttempts in a row that moved no byte forward.
inline constexpr int kMaxBlobAttempts = 10;
inline constexpr int kMaxStalledAttempts = 4;

// The wait before the next attempt, `stalled` being the failed attempts in a row that moved no
// byte (0: the last one made progress, so retry at once: a cut connection, not a sick server).
std::chrono::milliseconds ResumeBackoff(int stalled);

// A strong ETag worth sending as If-Range ("" for a weak or absent one: RFC 9110 13.1.5 allows
// only strong validators there).
std::string IfRangeValidator(const std::optional<std::string>& etag);

}  // namespace asb::image::registry
