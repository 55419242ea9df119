// WebSocket (RFC 6455) over a blocking socket: the server handshake for http::Server's upgrade
// hook, and a message connection with one reader thread and any number of writer threads.
//
// Used for the Kubernetes streaming subresources (pods/exec, pods/attach over
// v5.channel.k8s.io, port-forward's tunnelled SPDY) and asb-agent's exec endpoint. We frame by
// hand instead of using Beast's websocket::stream because kubectl's sessions read and write at
// the same time from different threads, which Beast's synchronous stream does not allow.
//
//   http::Response Handle(http::Request& req) {
//     auto accept = ws::AcceptUpgrade(req, {"v5.channel.k8s.io"});
//     if (!accept) return DetailResponse(accept.error());  // or the protocol's renderer
//     accept->upgrade = [](int fd, std::string pending) {
//       ws::Connection conn(fd, ws::Role::kServer, std::move(pending));
//       while (auto msg = conn.Read()) ...
//     };
//     return std::move(*accept);
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "http/message.h"

namespace asb::http::ws {

// True when `req` asks for a WebSocket upgrade (GET, Connection: upgrade, Upgrade: websocket).
bool IsUpgradeRequest(const Request& req);

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string AcceptKey(std::string_view client_key);

// The first of `supported` (server preference order) that the client offered in
// Sec-WebSocket-Protocol, or "" when none matched.
std::string NegotiateProtocol(const Request& req, const std::vector<std::string>& supported);

// The 101 response completing the handshake, with the negotiated subprotocol; the caller sets
// its `upgrade`. Errors (kInvalidArgument) name what is wrong: not an upgrade request, missing
// key, unsupported version, or (when `supported` is non-empty) no common subprotocol.
[[nodiscard]] Result<Response> AcceptUpgrade(const Request& req,
                                             const std::vector<std::string>& supported);

// The server's answer to a client's upgrade request.
struct UpgradeReply {
  int status = 0;
  Headers headers;
  std::string body;     // non-101 answers: the body (Content-Length, at most 1 MiB)
  std::string pending;  // 101: bytes that followed the head (the first frames)
};

// Client side of an upgrade on a connected blocking socket: sends `req` (method, target, its
// headers as given, plus Host when missing) and reads the reply head. The caller supplies the
// Upgrade/Connection/Sec-WebSocket-* headers, so a proxy can pass a client's handshake through
// unchanged. Errors: kUnavailable (I/O), kInvalidArgument (malformed reply).
[[nodiscard]] Result<UpgradeReply> SendUpgrade(int fd, const Request& req);

// Headers for a fresh client handshake (random key, version 13, the given subprotocols).
Headers ClientHandshakeHeaders(const std::vector<std::string>& protocols);

enum class Opcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

enum class Role { kServer, kClient };  // clients mask their frames, servers must not

struct Message {
  Opcode opcode = Opcode::kBinary;  // kText or kBinary
  std::string data;
};

// Status codes of a close frame.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;

class Connection {
 public:
  // `fd` is a connected blocking socket that stays owned by the caller. `pending` are bytes
  // already read from it (what followed the handshake).
  Connection(int fd, Role role, std::string pending = {}, size_t max_message_bytes = 16 << 20);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Blocks for the next data message, reassembling fragments. Pings are answered with pongs,
  // pongs are skipped. A close frame from the peer is answered (once) and returns kUnavailable,
  // as does EOF or a socket error; a protocol violation sends close 1002 (1009 for a message
  // over the limit) and returns kInvalidArgument. Only one thread may Read at a time.
  [[nodiscard]] Result<Message> Read();

  // Sends one unfragmented message. Thread-safe (writes are serialized). kUnavailable once the
  // socket failed or a close frame was sent.
  [[nodiscard]] Status Write(Opcode opcode, std::string_view payload);
  [[nodiscard]] Status WriteBinary(std::string_view payload) {
    return Write(Opcode::kBinary, payload);
  }
  // Sends a close frame (once; later calls do nothing). The peer's answering close ends Read.
  void Close(uint16_t code = kCloseNormal, std::string_view reason = {});
  // Shuts the socket down both ways: a blocked Read returns. For ending a session.
  void Shutdown();

  // The peer's close code, or 0 if no close frame was received.
  uint16_t peer_close_code() const { return peer_close_code_; }

 private:
  // Fills in_ until it holds `n` bytes. False on EOF/error.
  bool Fill(size_t n);
  Status WriteFrame(Opcode opcode, std::string_view payload);

  const int fd_;
  const Role role_;
  const size_t max_message_bytes_;
  std::string in_;  // received bytes not yet consumed (reader thread only)
  size_t in_pos_ = 0;
  uint16_t peer_close_code_ = 0;

  std::mutex write_mu_;
  bool write_failed_ = false;  // guarded by write_mu_
  bool close_sent_ = false;    // guarded by write_mu_
};

}  // namespace asb::http::ws
