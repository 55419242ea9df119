#include "apiserver/portforward_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <thread>
#include <vector>

#include "base/log.h"

namespace asb::apiserver {

namespace spdy = http::spdy;

namespace {

constexpr size_t kChunk = 64 * 1024;

bool WriteAllFd(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<uint16_t> ParsePort(const std::string& s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

std::string SocketTransport::Read() {
  if (!pending_.empty()) return std::exchange(pending_, {});
  std::string buf(kChunk, '\0');
  while (true) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {};
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
}

bool SocketTransport::Write(std::string_view bytes) { return WriteAllFd(fd_, bytes); }

// One forwarded connection: a pod socket and the two SPDY streams that carry it.
struct PortForwardSession::Forward {
  uint32_t data_id = 0;
  uint32_t error_id = 0;
  UniqueFd pod;
  std::thread thread;
  std::atomic<bool> done{false};
};

PortForwardSession::PortForwardSession(ByteTransport& transport, Dialer dial, std::string pod)
    : transport_(transport), dial_(std::move(dial)), pod_(std::move(pod)) {}

PortForwardSession::~PortForwardSession() { EndAll(); }

bool PortForwardSession::Send(std::string frame) {
  std::lock_guard l(write_mu_);
  if (write_failed_) return false;
  if (!transport_.Write(frame)) write_failed_ = true;
  return !write_failed_;
}

void PortForwardSession::Run() {
  spdy::FrameParser parser;
  while (true) {
    std::string bytes = transport_.Read();
    if (bytes.empty()) break;
    parser.Feed(bytes);
    bool ok = true;
    while (ok) {
      auto frame = parser.Next();
      if (!frame) {
        ASB_LOG(WARN, "port-forward: protocol error", "pod", pod_, "error", frame.error().message);
        Send(spdy::EncodeGoAway(last_stream_id_, 1));
        ok = false;
        break;
      }
      if (!frame->has_value()) break;
      ok = OnFrame(**frame);
    }
    if (!ok) break;
    ReapFinished();
  }
  EndAll();
}

bool PortForwardSession::OnFrame(spdy::Frame& f) {
  switch (f.type) {
    case spdy::FrameType::kSynStream:
      return OnSynStream(f);
    case spdy::FrameType::kData: {
      auto it = forwards_.find(f.stream_id);
      if (it == forwards_.end()) return true;  // the error stream's FIN, or a finished forward
      Forward& fw = *it->second;
      if (!f.data.empty() && !WriteAllFd(fw.pod.get(), f.data)) {
        // The pod closed its side; its EOF ends the forward on the pump thread.
        ::shutdown(fw.pod.get(), SHUT_WR);
      }
      if (f.fin()) ::shutdown(fw.pod.get(), SHUT_WR);  // half-close, like the kubelet's copy
      return true;
    }
    case spdy::FrameType::kRstStream: {
      auto it = forwards_.find(f.stream_id);
      if (it != forwards_.end()) ::shutdown(it->second->pod.get(), SHUT_RDWR);
      return true;
    }
    case spdy::FrameType::kPing:
      // Clients use odd ids; answering our own (even) pings would loop.
      if (f.value % 2 == 1) return Send(spdy::EncodePing(f.value));
      return true;
    case spdy::FrameType::kGoAway:
      return false;
    default:
      return true;  // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do
  }
}

bool PortForwardSession::OnSynStream(const spdy::Frame& f) {
  // Client streams are odd and increase (SPDY/3 2.3.2); anything else is a protocol error.
  if (f.stream_id % 2 == 0 || f.stream_id <= last_stream_id_) {
    Send(spdy::EncodeGoAway(last_stream_id_, 1));
    return false;
  }
  last_stream_id_ = f.stream_id;
  std::string type = spdy::HeaderValue(f.headers, "streamtype").value_or("");
  std::optional<uint16_t> port = ParsePort(spdy::HeaderValue(f.headers, "port").value_or(""));
  if ((type != "data" && type != "error") || !port) {
    ASB_LOG(WARN, "port-forward: stream without a valid streamType/port", "pod", pod_);
    return Send(spdy::EncodeRstStream(f.stream_id, spdy::kRstProtocolError));
  }
  std::string request_id = spdy::HeaderValue(f.headers, "requestid").value_or("");
  if (request_id.empty())
    request_id = std::to_string(type == "error" ? f.stream_id : f.stream_id - 2);
  // spdystream's CreateStream waits for this reply before the client may use the stream.
  {
    std::lock_guard l(write_mu_);
    auto reply = spdy::EncodeSynReply(encoder_, f.stream_id, {});
    if (!reply || write_failed_ || !transport_.Write(*reply)) {
      write_failed_ = true;
      return false;
    }
  }
  Pending& p = pending_[request_id];
  (type == "data" ? p.data_id : p.error_id) = f.stream_id;
  p.port = *port;
  if (p.data_id == 0 || p.error_id == 0) {
    // Bound the half-open requests a client can leave lying around.
    if (pending_.size() > kMaxForwards) {
      pending_.erase(request_id);
      return Send(spdy::EncodeRstStream(f.stream_id, spdy::kRstRefusedStream));
    }
    return true;
  }
  Pending ready = p;
  pending_.erase(request_id);
  if (forwards_.size() >= kMaxForwards) {
    Send(spdy::EncodeRstStream(ready.data_id, spdy::kRstRefusedStream));
    return Send(spdy::EncodeRstStream(ready.error_id, spdy::kRstRefusedStream));
  }
  StartForward(ready);
  return true;
}

void PortForwardSession::StartForward(const Pending& p) {
  auto fw = std::make_unique<Forward>();
  fw->data_id = p.data_id;
  fw->error_id = p.error_id;
  auto pod = dial_(p.port);
  if (!pod) {
    // What a kubelet writes on the error stream; kubectl prints it and ends the session.
    std::string msg = "error forwarding port " + std::to_string(p.port) + " to pod " + pod_ + ": " +
                      pod.error().message;
    Send(spdy::EncodeData(p.error_id, msg, spdy::kFlagFin));
    Send(spdy::EncodeData(p.data_id, "", spdy::kFlagFin));
    return;
  }
  fw->pod = std::move(*pod);
  Forward* raw = fw.get();
  try {
    fw->thread = std::thread([this, raw] { Pump(raw); });
  } catch (const std::system_error& e) {
    // Out of threads: refuse this connection, keep the session.
    Send(spdy::EncodeData(p.error_id, "error forwarding port: " + std::string(e.what()),
                          spdy::kFlagFin));
    Send(spdy::EncodeData(p.data_id, "", spdy::kFlagFin));
    return;
  }
  forwards_[p.data_id] = std::move(fw);
}

void PortForwardSession::Pump(Forward* fw) {
  std::string buf(kChunk, '\0');
  while (true) {
    ssize_t n = ::recv(fw->pod.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!Send(spdy::EncodeData(fw->data_id, std::string_view(buf.data(), static_cast<size_t>(n)))))
      break;
  }
  // The pod is done: end both streams (an empty error stream means success).
  Send(spdy::EncodeData(fw->data_id, "", spdy::kFlagFin));
  Send(spdy::EncodeData(fw->error_id, "", spdy::kFlagFin));
  fw->done = true;
}

void PortForwardSession::ReapFinished() {
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (it->second->done) {
      it->second->thread.join();
      it = forwards_.erase(it);
    } else {
      ++it;
    }
  }
}

void PortForwardSession::EndAll() {
  for (auto& [id, fw] : forwards_) ::shutdown(fw->pod.get(), SHUT_RDWR);
  for (auto& [id, fw] : forwards_)
    if (fw->thread.joinable()) fw->thread.join();
  forwards_.clear();
  pending_.clear();
}

}  // namespace asb::apiserver
