#include "cmd/asbd/api_backend.h"

#include "api/resource.h"
#include "controller/object_util.h"
#include "net/ip.h"
#include "sys/net.h"

namespace asb::asbd {

namespace {

constexpr std::chrono::milliseconds kDialTimeout{2000};  // as the node's (networked_runtime.cc)

// The address to dial, or why there is none.
Result<net::Ipv4> PodIp(const Json& sandbox, const std::string& ns, const std::string& name) {
  if (!controller::ConditionTrue(sandbox, "Ready"))
    return MakeError(Code::kFailedPrecondition, "sandbox " + ns + "/" + name + " is not ready");
  const Json* ips = Find(sandbox, "status.podIPs");
  if (ips == nullptr || !ips->is_array() || ips->empty() || !(*ips)[0].is_string())
    return MakeError(Code::kFailedPrecondition,
                     "sandbox " + ns + "/" + name +
                         " has no pod IP (its node runs with podNetwork \"none\"): reach it "
                         "through the router beside that node");
  return net::ParseIpv4((*ips)[0].get<std::string>());
}

}  // namespace

ApiBackend::ApiBackend(store::Store& store)
    : store_(store), cache_(store, api::SandboxResource(), "") {
  cache_.Start();
}

ApiBackend::~ApiBackend() { cache_.Stop(); }

Result<UniqueFd> ApiBackend::ConnectTimed(const std::string& ns, const std::string& sandbox_id,
                                          uint16_t port, router::ConnectTiming* timing) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<Json> sandbox = cache_.Get(ns, sandbox_id);
  auto ip = sandbox ? PodIp(*sandbox, ns, sandbox_id) : Result<net::Ipv4>(net::Ipv4{});
  if (!sandbox || !ip) {
    // Not in the cache yet, or not Ready there: the server may be ahead of the watch.
    auto fresh = store_.Get(api::SandboxResource(), ns, sandbox_id);
    if (!fresh) {
      if (fresh.error().code == Code::kNotFound)
        return MakeError(Code::kNotFound, "sandbox " + ns + "/" + sandbox_id + " not found");
      return tl::unexpected(fresh.error());
    }
    ip = PodIp(*fresh, ns, sandbox_id);
    if (!ip) return tl::unexpected(ip.error());
  }
  if (timing) timing->resolve = std::chrono::steady_clock::now() - start;
  auto fd = sys::ConnectTcp(ip->value, port, kDialTimeout);
  if (!fd) {
    Error e = fd.error().Wrap("sandbox " + ns + "/" + sandbox_id + " port " + std::to_string(port));
    e.code = Code::kInternal;  // Ready but unreachable: 502, as the embedded backend answers
    return tl::unexpected(e);
  }
  return fd;
}

}  // namespace asb::asbd
