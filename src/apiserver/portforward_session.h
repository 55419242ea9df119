// One `kubectl port-forward` session: the server side of client-go's portforward protocol
// (portforward.k8s.io) over SPDY/3.1, as a kubelet's streaming server speaks it.
//
// For every local connection kubectl accepts, it opens two SPDY streams carrying the headers
// `streamType: error|data`, `port: N` and `requestID: K` (older clients omit requestID: then, as in
// the kubelet, the error stream comes first and the data stream's id is its id + 2). Once both
// streams of a request are there, the session dials the pod's port and copies bytes: data-stream
// DATA frames to the pod, the pod's bytes back as DATA frames; the pod's EOF ends the data stream
// (FIN) and the error stream (FIN, empty = success). A failed dial writes the message on the
// error stream instead, which kubectl prints ("an error occurred forwarding 8080 -> 9999: ...").
//
// Threads: Run's caller reads frames; each forwarded connection has one thread copying the pod's
// bytes to the client. Frames from all threads go out under one write lock (the header
// compressor's state is part of it). Client-to-pod bytes are written by the reader thread: a
// pod that stops reading stalls the session, as it would a kubelet's (spdystream has no flow
// control to push back with).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"
#include "http/spdy.h"

namespace asb::apiserver {

// The byte pipe the SPDY session runs on: the upgraded socket itself, or the payloads of binary
// WebSocket messages (kubectl's WebSocket tunnel).
class ByteTransport {
 public:
  virtual ~ByteTransport() = default;
  // The next received bytes; an empty string on EOF or error. Called from one thread.
  virtual std::string Read() = 0;
  // Writes all of `bytes`; false once the peer is gone. Called under the session's write lock.
  virtual bool Write(std::string_view bytes) = 0;
};

// A connected blocking socket (owned by the caller) with bytes already read from it.
class SocketTransport final : public ByteTransport {
 public:
  SocketTransport(int fd, std::string pending) : fd_(fd), pending_(std::move(pending)) {}
  std::string Read() override;
  bool Write(std::string_view bytes) override;

 private:
  int fd_;
  std::string pending_;
};

class PortForwardSession {
 public:
  // Connects to a port of the pod being forwarded. Errors are shown to the user verbatim.
  using Dialer = std::function<Result<UniqueFd>(uint16_t port)>;
  // `pod` ("ns/name") names the pod in error messages.
  PortForwardSession(ByteTransport& transport, Dialer dial, std::string pod);
  ~PortForwardSession();
  PortForwardSession(const PortForwardSession&) = delete;
  PortForwardSession& operator=(const PortForwardSession&) = delete;

  // Serves frames until the client closes the connection or breaks the protocol, then ends
  // every forward (shutting down its pod connection) and joins its thread.
  void Run();

  // Forwards running at most at once; more requests are refused (RST_STREAM REFUSED_STREAM).
  static constexpr size_t kMaxForwards = 256;

 private:
  struct Forward;
  struct Pending {
    uint32_t data_id = 0;
    uint32_t error_id = 0;
    uint16_t port = 0;
  };

  bool Send(std::string frame);
  // Handles one frame; false ends the session.
  bool OnFrame(http::spdy::Frame& f);
  bool OnSynStream(const http::spdy::Frame& f);
  void StartForward(const Pending& p);
  void Pump(Forward* fw);  // pod -> client, on the forward's thread
  void ReapFinished();
  void EndAll();

  ByteTransport& transport_;
  Dialer dial_;
  std::string pod_;

  std::mutex write_mu_;
  http::spdy::HeaderEncoder encoder_;  // guarded by write_mu_
  bool write_failed_ = false;          // guarded by write_mu_

  // Reader thread only.
  uint32_t last_stream_id_ = 0;
  std::map<std::string, Pending> pending_;                 // by requestID
  std::map<uint32_t, std::unique_ptr<Forward>> forwards_;  // by data stream id
};

}  // namespace asb::apiserver
