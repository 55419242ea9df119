#include "net/networked_runtime.h"

#include "base/log.h"
#include "sys/net.h"

namespace asb::net {
namespace {
constexpr std::chrono::milliseconds kDialTimeout{2000};
}  // namespace

Status NetworkedRuntime::Start(const runtime::SandboxSpec& spec) {
  ASB_ASSIGN_OR_RETURN(PodAttachment net,
                       network_.Attach(spec.id, policy_key_ ? policy_key_(spec) : ""));
  runtime::SandboxSpec wired = spec;
  wired.netns_path = net.netns_path;
  Status st = inner_.Start(wired);
  if (!st) {
    if (Status d = network_.Detach(spec.id); !d) {
      ASB_LOG(WARN, "pod network: detach after a failed start", "id", spec.id, "error",
              d.error().message);
    }
  }
  return st;
}

Status NetworkedRuntime::Stop(const std::string& id, std::chrono::milliseconds grace) {
  ASB_RETURN_IF_ERROR(inner_.Stop(id, grace));
  return network_.Detach(id);
}

Result<UniqueFd> NetworkedRuntime::DialPort(const std::string& id, uint16_t port) {
  std::optional<Ipv4> ip = network_.PodIP(id);
  if (!ip) return inner_.DialPort(id, port);
  return sys::ConnectTcp(ip->value, port, kDialTimeout);
}

std::vector<std::string> NetworkedRuntime::PodIPs(const std::string& id) const {
  std::optional<Ipv4> ip = network_.PodIP(id);
  if (!ip) return {};
  return {ToString(*ip)};
}

}  // namespace asb::net
