// A Runtime with pod networking: wraps a runtime so each sandbox it starts runs in a namespace
// the PodNetwork wired (a veth and an address on the bridge) and is dialed over its pod IP, as a
// kubelet's CNI plugin and port-forward would. Starts attach first and detach on failure; Stop
// detaches once the sandbox is gone. Sandboxes without a pod address (started before the pod
// network was enabled) are dialed inside their namespace, as before.
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
  // The networkPolicy key (policy_firewall.h) of the sandbox a spec starts; "" = the default.
  using PolicyKeyFn = std::function<std::string(const runtime::SandboxSpec&)>;

  // Both must outlive this.
  NetworkedRuntime(runtime::Runtime& inner, PodNetwork& network, PolicyKeyFn policy_key = {})
      : inner_(inner), network_(network), policy_key_(std::move(policy_key)) {}

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
  std::vector<std::string> PodIPs(const std::string& id) const override;

  runtime::Runtime& inner() { return inner_; }

 private:
  runtime::Runtime& inner_;
  PodNetwork& network_;
  const PolicyKeyFn policy_key_;
};

}  // namespace asb::net
