#include "http/websocket.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/detail/sha1.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "base/strings.h"

namespace asb::http::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Comma-separated tokens of a header value (all occurrences), trimmed.
std::vector<std::string> HeaderTokens(const Request& req, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : req.headers.items()) {
    if (ToLower(k) != ToLower(name)) continue;
    for (const std::string& t : Split(v, ',')) {
      std::string_view tt = Trim(t);
      if (!tt.empty()) out.emplace_back(tt);
    }
  }
  return out;
}

bool HasToken(const Request& req, std::string_view name, std::string_view token) {
  for (const std::string& t : HeaderTokens(req, name))
    if (ToLower(t) == token) return true;
  return false;
}

bool IsControl(Opcode op) { return static_cast<uint8_t>(op) >= 8; }

bool KnownOpcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

uint32_t RandomMask() {
  thread_local std::mt19937 gen{std::random_device{}()};
  return static_cast<uint32_t>(gen());
}

}  // namespace

bool IsUpgradeRequest(const Request& req) {
  return req.method == "GET" && HasToken(req, "Connection", "upgrade") &&
         HasToken(req, "Upgrade", "websocket");
}

std::string AcceptKey(std::string_view client_key) {
  namespace detail = boost::beast::detail;
  std::string input = std::string(client_key) + std::string(kGuid);
  detail::sha1_context ctx;
  detail::init(ctx);
  detail::update(ctx, input.data(), input.size());
  unsigned char digest[detail::sha1_context::digest_size];
  detail::finish(ctx, digest);
  std::string out(detail::base64::encoded_size(sizeof(digest)), '\0');
  out.resize(detail::base64::encode(out.data(), digest, sizeof(digest)));
  return out;
}

std::string NegotiateProtocol(const Request& req, const std::vector<std::string>& supported) {
  std::vector<std::string> offered = HeaderTokens(req, "Sec-WebSocket-Protocol");
  for (const std::string& s : supported)
    for (const std::string& o : offered)
      if (o == s) return s;
  return "";
}

Result<Response> AcceptUpgrade(const Request& req, const std::vector<std::string>& supported) {
  if (!IsUpgradeRequest(req)) {
    return MakeError(Code::kInvalidArgument,
                     "expected a WebSocket upgrade (GET with Connection: Upgrade and Upgrade: "
                     "websocket)");
  }
  std::string key(Trim(req.headers.GetOr("Sec-WebSocket-Key", "")));
  if (key.empty()) return MakeError(Code::kInvalidArgument, "missing Sec-WebSocket-Key");
  if (Trim(req.headers.GetOr("Sec-WebSocket-Version", "")) != "13") {
    return MakeError(Code::kInvalidArgument, "unsupported Sec-WebSocket-Version (want 13)");
  }
  std::string protocol = NegotiateProtocol(req, supported);
  if (!supported.empty() && protocol.empty()) {
    return MakeError(
        Code::kInvalidArgument,
        "no supported WebSocket subprotocol offered (supported: " + Join(supported, ", ") + ")");
  }
  Response r;
  r.status = 101;
  r.headers.Set("Upgrade", "websocket");
  r.headers.Set("Connection", "Upgrade");
  r.headers.Set("Sec-WebSocket-Accept", AcceptKey(key));
  if (!protocol.empty()) r.headers.Set("Sec-WebSocket-Protocol", protocol);
  return r;
}

namespace {

bool SendAll(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<UpgradeReply> SendUpgrade(int fd, const Request& req) {
  std::string head = req.method + " " + req.target + " HTTP/1.1\r\n";
  if (!req.headers.Get("Host")) head += "Host: localhost\r\n";
  for (const auto& [k, v] : req.headers.items()) head += k + ": " + v + "\r\n";
  head += "\r\n";
  if (!SendAll(fd, head)) return ErrnoUnexpected("send upgrade request");
  constexpr size_t kMaxHead = 64 * 1024;
  std::string in;
  size_t end = std::string::npos;
  while ((end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > kMaxHead)
      return MakeError(Code::kInvalidArgument, "upgrade reply head too big");
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return MakeError(Code::kUnavailable, "connection closed before the upgrade reply");
    in.append(buf, static_cast<size_t>(n));
  }
  UpgradeReply reply;
  std::vector<std::string> lines = Split(in.substr(0, end), '\n');
  std::string status_line(Trim(lines[0]));
  if (!StartsWith(status_line, "HTTP/1.") || status_line.size() < 12)
    return MakeError(Code::kInvalidArgument, "malformed status line: " + status_line);
  reply.status = std::atoi(status_line.substr(9, 3).c_str());
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    reply.headers.Add(std::string(Trim(lines[i].substr(0, colon))),
                      std::string(Trim(lines[i].substr(colon + 1))));
  }
  std::string rest = in.substr(end + 4);
  if (reply.status == 101) {
    reply.pending = std::move(rest);
    return reply;
  }
  size_t want = static_cast<size_t>(std::atol(reply.headers.GetOr("Content-Length", "0").c_str()));
  want = std::min<size_t>(want, 1 << 20);
  while (rest.size() < want) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    rest.append(buf, static_cast<size_t>(n));
  }
  reply.body = rest.substr(0, want);
  return reply;
}

Headers ClientHandshakeHeaders(const std::vector<std::string>& protocols) {
  namespace detail = boost::beast::detail;
  unsigned char nonce[16];
  for (size_t i = 0; i < sizeof(nonce); i += 4) {
    uint32_t m = RandomMask();
    std::memcpy(nonce + i, &m, 4);
  }
  std::string key(detail::base64::encoded_size(sizeof(nonce)), '\0');
  key.resize(detail::base64::encode(key.data(), nonce, sizeof(nonce)));
  Headers h;
  h.Set("Connection", "Upgrade");
  h.Set("Upgrade", "websocket");
  h.Set("Sec-WebSocket-Version", "13");
  h.Set("Sec-WebSocket-Key", key);
  if (!protocols.empty()) h.Set("Sec-WebSocket-Protocol", Join(protocols, ", "));
  return h;
}

Connection::Connection(int fd, Role role, std::string pending, size_t max_message_bytes)
    : fd_(fd), role_(role), max_message_bytes_(max_message_bytes), in_(std::move(pending)) {}

bool Connection::Fill(size_t n) {
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  while (in_.size() - in_pos_ < n) {
    char buf[16384];
    ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    in_.append(buf, static_cast<size_t>(got));
  }
  return true;
}

Result<Message> Connection::Read() {
  Message msg;
  bool in_message = false;
  for (;;) {
    if (!Fill(2)) return MakeError(Code::kUnavailable, "websocket: connection closed");
    auto b0 = static_cast<uint8_t>(in_[in_pos_]);
    auto b1 = static_cast<uint8_t>(in_[in_pos_ + 1]);
    bool fin = b0 & 0x80;
    uint8_t op = b0 & 0x0f;
    bool masked = b1 & 0x80;
    uint64_t len = b1 & 0x7f;
    size_t header = 2;
    auto protocol_error = [&](uint16_t code, const std::string& what) -> Result<Message> {
      Close(code, what);
      return MakeError(Code::kInvalidArgument, "websocket: " + what);
    };
    if ((b0 & 0x70) != 0) return protocol_error(kCloseProtocolError, "reserved bits set");
    if (!KnownOpcode(op)) return protocol_error(kCloseProtocolError, "unknown opcode");
    // RFC 6455 5.1: a server must close on unmasked client frames, and the reverse.
    if (masked != (role_ == Role::kServer))
      return protocol_error(kCloseProtocolError, masked ? "masked server frame" : "unmasked frame");
    if (len == 126) {
      if (!Fill(4)) return MakeError(Code::kUnavailable, "websocket: connection closed");
      len = (static_cast<uint64_t>(static_cast<uint8_t>(in_[in_pos_ + 2])) << 8) |
            static_cast<uint8_t>(in_[in_pos_ + 3]);
      header = 4;
    } else if (len == 127) {
      if (!Fill(10)) return MakeError(Code::kUnavailable, "websocket: connection closed");
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(in_[in_pos_ + 2 + i]);
      header = 10;
    }
    auto opcode = static_cast<Opcode>(op);
    if (IsControl(opcode) && (len > 125 || !fin))
      return protocol_error(kCloseProtocolError, "bad control frame");
    if (!IsControl(opcode) && msg.data.size() + len > max_message_bytes_)
      return protocol_error(kCloseTooBig, "message too big");
    size_t mask_at = header;
    if (masked) header += 4;
    if (!Fill(header + len)) return MakeError(Code::kUnavailable, "websocket: connection closed");
    std::string payload = in_.substr(in_pos_ + header, len);
    if (masked) {
      const char* mask = in_.data() + in_pos_ + mask_at;
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= mask[i % 4];
    }
    in_pos_ += header + len;

    switch (opcode) {
      case Opcode::kPing:
        (void)Write(Opcode::kPong, payload);
        continue;
      case Opcode::kPong:
        continue;
      case Opcode::kClose:
        peer_close_code_ = payload.size() >= 2
                               ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                                       static_cast<uint8_t>(payload[1]))
                               : kCloseNormal;
        Close(kCloseNormal);
        return MakeError(Code::kUnavailable, "websocket: closed by peer");
      case Opcode::kContinuation:
        if (!in_message) return protocol_error(kCloseProtocolError, "unexpected continuation");
        break;
      default:
        if (in_message) return protocol_error(kCloseProtocolError, "expected continuation");
        msg.opcode = opcode;
        in_message = true;
        break;
    }
    msg.data += payload;
    if (fin) return msg;
  }
}

Status Connection::WriteFrame(Opcode opcode, std::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 14);
  frame.push_back(static_cast<char>(0x80 | static_cast<uint8_t>(opcode)));
  uint8_t mask_bit = role_ == Role::kClient ? 0x80 : 0;
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    frame.push_back(static_cast<char>(mask_bit | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    frame.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i)
      frame.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  }
  size_t body_at = frame.size();
  if (role_ == Role::kClient) {
    uint32_t m = RandomMask();
    char mask[4];
    std::memcpy(mask, &m, 4);
    frame.append(mask, 4);
    body_at = frame.size();
    frame.append(payload);
    for (size_t i = 0; i < payload.size(); ++i) frame[body_at + i] ^= mask[i % 4];
  } else {
    frame.append(payload);
  }
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_failed_ = true;
      return ErrnoUnexpected("websocket send");
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Status Connection::Write(Opcode opcode, std::string_view payload) {
  std::lock_guard l(write_mu_);
  if (write_failed_ || close_sent_) return MakeError(Code::kUnavailable, "websocket: closed");
  return WriteFrame(opcode, payload);
}

void Connection::Close(uint16_t code, std::string_view reason) {
  std::lock_guard l(write_mu_);
  if (write_failed_ || close_sent_) return;
  close_sent_ = true;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason.substr(0, 123));
  (void)WriteFrame(Opcode::kClose, payload);
}

void Connection::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace asb::http::ws
