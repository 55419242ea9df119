// SPDY/3.1 framing (the draft-3.1 spec, as spoken by moby/spdystream, which client-go uses for
// `kubectl port-forward`): frame encoding and decoding plus the zlib header compression with
// the spec's preset dictionary. No sockets and no threads here: a session feeds received bytes
// to a FrameParser and writes what the Encode* functions return.
//
// Frames on the wire (all integers big-endian):
//   control: 1 | version(15)=3 | type(16) | flags(8) | length(24) | payload
//   data:    0 | stream-id(31)  | flags(8) | length(24) | payload
// Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are `count(32) {len(32) name len(32) value}*`,
// compressed with one zlib stream per direction for the whole session (Z_SYNC_FLUSH per block),
// so the encoder and the decoder are stateful and must see every block in order.
//
// Flow control: SPDY/3.1 has WINDOW_UPDATE, but spdystream neither sends nor honours it, so
// we parse it (and ignore it) and never wait for window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace asb::http::spdy {

enum class FrameType : uint16_t {
  kData = 0,  // not a control type: marks a data frame in Frame::type
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;             // data and SYN/HEADERS frames
inline constexpr uint8_t kFlagUnidirectional = 0x02;  // SYN_STREAM

// RST_STREAM status codes.
inline constexpr uint32_t kRstProtocolError = 1;
inline constexpr uint32_t kRstInvalidStream = 2;
inline constexpr uint32_t kRstRefusedStream = 3;
inline constexpr uint32_t kRstCancel = 5;
inline constexpr uint32_t kRstInternalError = 6;

// Largest payload one frame can carry (24-bit length).
inline constexpr size_t kMaxFrameLength = (1u << 24) - 1;

// Header names are lower-case; a value may hold several values separated by NUL.
using HeaderBlock = std::vector<std::pair<std::string, std::string>>;

// The value of `name` in `h`, or nullopt.
std::optional<std::string> HeaderValue(const HeaderBlock& h, std::string_view name);

// The preset zlib dictionary of SPDY/3 (1423 bytes).
const std::string& Dictionary();

struct Frame {
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  uint32_t stream_id = 0;      // data, SYN_*, RST, HEADERS, WINDOW_UPDATE; GOAWAY: last good id
  uint32_t associated_id = 0;  // SYN_STREAM
  uint8_t priority = 0;        // SYN_STREAM (3 bits)
  uint32_t value = 0;          // RST/GOAWAY status, PING id, WINDOW_UPDATE delta
  HeaderBlock headers;         // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;            // data frames

  bool fin() const { return (flags & kFlagFin) != 0; }
};

// Compresses header blocks for one direction of a session. Not thread-safe: the session's
// writer lock serializes it with the frame writes, because block order is part of the state.
class HeaderEncoder {
 public:
  HeaderEncoder();
  ~HeaderEncoder();
  HeaderEncoder(const HeaderEncoder&) = delete;
  HeaderEncoder& operator=(const HeaderEncoder&) = delete;
  // The compressed form of `headers` (names are lower-cased).
  [[nodiscard]] Result<std::string> Encode(const HeaderBlock& headers);

 private:
  struct Z;
  std::unique_ptr<Z> z_;
};

// Decompresses the peer's header blocks. A block that inflates past `max_bytes` is refused
// (kResourceExhausted): a zlib bomb must not allocate without bound.
class HeaderDecoder {
 public:
  explicit HeaderDecoder(size_t max_bytes = 256 * 1024);
  ~HeaderDecoder();
  HeaderDecoder(const HeaderDecoder&) = delete;
  HeaderDecoder& operator=(const HeaderDecoder&) = delete;
  [[nodiscard]] Result<HeaderBlock> Decode(std::string_view compressed);

 private:
  struct Z;
  std::unique_ptr<Z> z_;
  size_t max_bytes_;
};

// Incremental frame reader: Feed() received bytes, then Next() until it yields nullopt.
// Errors (kInvalidArgument: bad version, truncated payload; kResourceExhausted: a header block
// too large) are protocol errors after which the session must end (GOAWAY + close).
class FrameParser {
 public:
  void Feed(std::string_view bytes) { in_.append(bytes); }
  [[nodiscard]] Result<std::optional<Frame>> Next();
  size_t buffered() const { return in_.size() - pos_; }

 private:
  std::string in_;
  size_t pos_ = 0;
  HeaderDecoder decoder_;
};

// Frame encoders. The ones with header blocks take the session's encoder.
[[nodiscard]] Result<std::string> EncodeSynStream(HeaderEncoder& enc, uint32_t stream_id,
                                                  const HeaderBlock& headers, uint8_t flags = 0);
[[nodiscard]] Result<std::string> EncodeSynReply(HeaderEncoder& enc, uint32_t stream_id,
                                                 const HeaderBlock& headers, uint8_t flags = 0);
// `data` must be at most kMaxFrameLength bytes.
std::string EncodeData(uint32_t stream_id, std::string_view data, uint8_t flags = 0);
std::string EncodeRstStream(uint32_t stream_id, uint32_t status);
std::string EncodePing(uint32_t id);
std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status);
std::string EncodeWindowUpdate(uint32_t stream_id, uint32_t delta);

}  // namespace asb::http::spdy
