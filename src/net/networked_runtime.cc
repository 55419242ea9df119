#include "net/networked_runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "base/unique_fd.h"
#include "sys/net.h"

namespace asb::net {
namespace {
constexpr std::chrono::milliseconds kDialTimeout{2000};

// Written before anything reads it (the bind mount comes after), and worthless after a host
// crash (the sandbox is gone too): no fsync on the start path, which cost ~2 ms at p50 here.
Status WriteResolvConf(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return ErrnoUnexpected("create " + path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoUnexpected("write " + path);
  }
  return {};
}
}  // namespace

std::string NetworkedRuntime::ResolvConfPath(const std::string& id) const {
  return network_.options().state_dir + "/net/dns/" + id;
}

Status NetworkedRuntime::Start(const runtime::SandboxSpec& spec) {
  ASB_RETURN_IF_ERROR(runtime::ValidateSandboxId(spec.id));  // it names a file below
  PodInfo info;
  if (pod_info_) {
    ASB_ASSIGN_OR_RETURN(info, pod_info_(spec));
  }
  runtime::SandboxSpec wired = spec;
  const std::string resolv = ResolvConfPath(spec.id);
  if (!info.resolv_conf.empty()) {
    const std::string dir = network_.options().state_dir + "/net/dns";
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoUnexpected("mkdir " + dir);
    ASB_RETURN_IF_ERROR(WriteResolvConf(resolv, info.resolv_conf));
    wired.rootfs.binds.push_back(
        {.host_path = resolv, .sandbox_path = "/etc/resolv.conf", .read_only = true});
  }
  auto net = network_.Attach(spec.id, info.policy_key);
  if (!net) {
    ::unlink(resolv.c_str());
    return tl::unexpected(net.error());
  }
  wired.netns_path = net->netns_path;
  Status st = inner_.Start(wired);
  if (!st) {
    if (Status d = network_.Detach(spec.id); !d) {
      ASB_LOG(WARN, "pod network: detach after a failed start", "id", spec.id, "error",
              d.error().message);
    }
    ::unlink(resolv.c_str());
  }
  return st;
}

Status NetworkedRuntime::Stop(const std::string& id, std::chrono::milliseconds grace) {
  ASB_RETURN_IF_ERROR(inner_.Stop(id, grace));
  if (runtime::ValidateSandboxId(id)) ::unlink(ResolvConfPath(id).c_str());
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
