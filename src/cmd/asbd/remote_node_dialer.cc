#include "cmd/asbd/remote_node_dialer.h"

#include <sys/socket.h>
#include <sys/time.h>

#include "api/resource.h"
#include "cmd/asbd/node_streams.h"
#include "net/ip.h"
#include "sys/net.h"

namespace asb::asbd {

namespace {

constexpr std::chrono::milliseconds kConnectTimeout{2000};
constexpr int kReplyTimeoutSeconds = 10;  // the node dials the pod before it answers
constexpr size_t kMaxReplyHead = 8192;

void SetReceiveTimeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The reply head, read a byte at a time: whatever follows it belongs to the pod's stream and
// must stay in the socket for the caller.
Result<std::string> ReadHead(int fd) {
  std::string head;
  while (head.size() < kMaxReplyHead) {
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return MakeError(Code::kUnavailable, "the node closed the stream before answering");
    head.push_back(c);
    if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) return head;
  }
  return MakeError(Code::kInternal, "the node's answer head is too long");
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
  auto node = store_.Get(api::NodeResource(), "", node_name);
  if (!node) return tl::unexpected(node.error().Wrap("node " + node_name + " of the pod"));
  std::string address;
  if (const Json* as = Find(*node, "status.addresses"); as && as->is_array())
    for (const Json& a : *as)
      if (GetString(a, "type") == "InternalIP" && address.empty())
        address = GetString(a, "address");
  const Json* p = Find(*node, "status.daemonEndpoints.kubeletEndpoint.Port");
  auto ip = net::ParseIpv4(address);
  if (!ip || p == nullptr || !p->is_number_integer() || p->get<int64_t>() < 1 ||
      p->get<int64_t>() > 65535)
    return MakeError(Code::kUnavailable, "node " + node_name +
                                             " reports no IPv4 InternalIP and stream port "
                                             "(status.daemonEndpoints.kubeletEndpoint.Port)");
  const auto node_port = static_cast<uint16_t>(p->get<int64_t>());
  auto fd = sys::ConnectTcp(ip->value, node_port, kConnectTimeout);
  if (!fd) return tl::unexpected(fd.error().Wrap("node " + node_name + " stream port"));
  const std::string request = "POST " + std::string(kNodeDialPrefix) + ns + "/" + name + "/" +
                              std::to_string(port) + " HTTP/1.1\r\nHost: " + address + ":" +
                              std::to_string(node_port) + "\r\nAuthorization: Bearer " + token_ +
                              "\r\nConnection: Upgrade\r\nUpgrade: " + kNodeDialUpgrade +
                              "\r\nContent-Length: 0\r\n\r\n";
  SetReceiveTimeout(fd->get(), kReplyTimeoutSeconds);
  if (!SendAll(fd->get(), request))
    return MakeError(Code::kUnavailable, "node " + node_name + " closed the stream port");
  ASB_ASSIGN_OR_RETURN(std::string head, ReadHead(fd->get()));
  int status = head.size() > 12 && head.compare(0, 5, "HTTP/") == 0
                   ? std::atoi(head.c_str() + head.find(' ') + 1)
                   : 0;
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
