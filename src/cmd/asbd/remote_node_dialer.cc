#include "cmd/asbd/remote_node_dialer.h"

#include <sys/socket.h>
#include <sys/time.h>

#include "api/resource.h"
#include "cmd/asbd/node_proxy.h"
#include "cmd/asbd/node_streams.h"
#include "sys/net.h"

namespace asb::asbd {

namespace {

constexpr std::chrono::milliseconds kConnectTimeout{2000};
constexpr int kReplyTimeoutSeconds = 10;  // the node dials the pod before it answers

void SetReceiveTimeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// What the node's error body says (one line, bounded).
std::string ReadReason(int fd) {
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

Result<UniqueFd> RemoteNodeDialer::Dial(const Json& pod, uint16_t port) {
  const std::string ns = GetString(pod, "metadata.namespace");
  const std::string name = GetString(pod, "metadata.name");
  const std::string node_name = GetString(pod, "spec.nodeName");
  if (node_name.empty())
    return MakeError(Code::kUnavailable, "pod " + ns + "/" + name + " is not scheduled yet");
  auto ep = ResolveNodeEndpoint(store_, node_name);
  if (!ep) return tl::unexpected(ep.error());
  auto fd = sys::ConnectTcp(ep->ip, ep->port, kConnectTimeout);
  if (!fd) return tl::unexpected(fd.error().Wrap("node " + node_name + " stream port"));
  const std::string request = NodeRequestHead(
      *ep, "POST", std::string(kNodeDialPrefix) + ns + "/" + name + "/" + std::to_string(port),
      token_, std::string("Connection: Upgrade\r\nUpgrade: ") + kNodeDialUpgrade + "\r\n", 0);
  SetReceiveTimeout(fd->get(), kReplyTimeoutSeconds);
  if (!SendAll(fd->get(), request))
    return MakeError(Code::kUnavailable, "node " + node_name + " closed the stream port");
  ASB_ASSIGN_OR_RETURN(std::string head, ReadReplyHead(fd->get()));
  const int status = ReplyStatus(head);
  if (status == 101) {
    SetReceiveTimeout(fd->get(), 0);  // a relay now: reads block as long as the stream lives
    return fd;
  }
  std::string why = "node " + node_name + ": " + ReadReason(fd->get());
  if (status == 404) return MakeError(Code::kNotFound, why);
  if (status == 503) return MakeError(Code::kUnavailable, why);
  return MakeError(Code::kInternal, why + " (HTTP " + std::to_string(status) + ")");
}

}  // namespace asb::asbd
