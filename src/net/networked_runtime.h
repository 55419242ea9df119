// A Runtime with pod networking: wraps a runtime so each sandbox it starts runs in a namespace
// the PodNetwork wired (a veth and an address on the bridge) and is dialed over its pod IP, as a
// kubelet's CNI plugin and port-forward would. Starts attach first and detach on failure; Stop
// detaches once the sandbox is gone. Sandboxes without a pod address (started before the pod
// network was enabled) are dialed inside their namespace, as before.
//
// DNS: a sandbox gets the /etc/resolv.conf its pod's dnsPolicy/dnsConfig make (net/dns_config.h),
// written to <state_dir>/net/dns/<id> and bind-mounted read-only over the image's (one small
// file write on the start path; the native runtime refuses an image whose /etc/resolv.conf is a
// symlink, as it refuses every symlink on a mount path). Removed with the sandbox.
//
// Thread-safe (both parts are).
#pragma once

#include <functional>
#include <string>

#include "net/pod_network.h"
#include "runtime/runtime.h"

namespace asb::net {

class NetworkedRuntime final : public runtime::Runtime {
 public:
  // What the node says of the sandbox a spec starts.
  struct PodInfo {
    std::string policy_key;   // its networkPolicy (policy_firewall.h); "" = the default
    std::string resolv_conf;  // its /etc/resolv.conf (dns_config.h); "" = the image's own
  };
  // An error (a dnsConfig the node cannot write) fails the start.
  using PodInfoFn = std::function<Result<PodInfo>(const runtime::SandboxSpec&)>;

  // Both must outlive this.
  NetworkedRuntime(runtime::Runtime& inner, PodNetwork& network, PodInfoFn pod_info = {})
      : inner_(inner), network_(network), pod_info_(std::move(pod_info)) {}

  std::string_view name() const override { return inner_.name(); }
  Status Start(const runtime::SandboxSpec& spec) override;
  Result<runtime::SandboxStatus> Inspect(const std::string& id) override {
    return inner_.Inspect(id);
  }
  Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  Result<UniqueFd> DialPort(const std::string& id, uint16_t port) override;
  Result<runtime::ExecResult> Exec(const std::string& id, const runtime::ProcessSpec& process,
                                   std::chrono::milliseconds timeout) override {
    return inner_.Exec(id, process, timeout);
  }
  Result<std::vector<std::string>> List() override { return inner_.List(); }
  std::string LogPath(const std::string& id) const override { return inner_.LogPath(id); }
  Status SetCpuIdle(const std::string& id, bool idle, const runtime::Limits& limits) override {
    return inner_.SetCpuIdle(id, idle, limits);
  }
  std::vector<std::string> PodIPs(const std::string& id) const override;

  runtime::Runtime& inner() { return inner_; }

 private:
  std::string ResolvConfPath(const std::string& id) const;

  runtime::Runtime& inner_;
  PodNetwork& network_;
  const PodInfoFn pod_info_;
};

}  // namespace asb::net
