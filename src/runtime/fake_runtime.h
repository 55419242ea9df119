// FakeRuntime: an in-memory Runtime for tests of what sits above the runtimes (the node agent).
// Sandboxes are records, not processes; tests make them exit, plant leftovers from an "earlier
// asbd", and point DialPort at a real local TCP server. Test-only target asb::runtime_fake,
// next to the interface it fakes. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace asb::runtime {

class FakeRuntime final : public Runtime {
 public:
  explicit FakeRuntime(std::string name) : name_(std::move(name)) {}

  std::string_view name() const override { return name_; }
  Status Start(const SandboxSpec& spec) override;
  Result<SandboxStatus> Inspect(const std::string& id) override;
  Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  Result<UniqueFd> DialPort(const std::string& id, uint16_t port) override;
  Result<ExecResult> Exec(const std::string& id, const ProcessSpec& process,
                          std::chrono::milliseconds timeout) override;
  Result<std::vector<std::string>> List() override;
  // Sets the box's spec.limits.cpu_idle (SpecOf shows it) and counts the call.
  Status SetCpuIdle(const std::string& id, bool idle, const Limits& limits) override;

  // --- test controls ---
  // Connections to `port` in any running sandbox go to 127.0.0.1:host_port.
  void ForwardPort(uint16_t port, uint16_t host_port);
  // The sandbox's process exits.
  void Exit(const std::string& id, int exit_code, int signal = 0, bool oom = false);
  // A sandbox "left behind by an earlier asbd".
  void Plant(const std::string& id, SandboxState state);
  // The next Start fails with this error.
  void FailNextStart(Error error);
  // Exec results come from this function (default: exit 0).
  void SetExecHandler(std::function<ExecResult(const ProcessSpec&)> fn);

  bool Has(const std::string& id);
  std::optional<SandboxSpec> SpecOf(const std::string& id);
  int StartCount(const std::string& id);
  std::vector<std::string> Stopped();  // ids passed to Stop that existed, in order
  std::chrono::milliseconds LastGrace();
  int CpuIdleWrites(const std::string& id);  // SetCpuIdle calls for a sandbox that existed

 private:
  struct Box {
    SandboxSpec spec;
    SandboxStatus status;
  };
  std::string name_;
  std::mutex mu_;
  std::map<std::string, Box> boxes_;
  std::map<std::string, int> starts_;
  std::map<std::string, int> cpu_idle_writes_;
  std::map<uint16_t, uint16_t> forwards_;
  std::vector<std::string> stopped_;
  std::optional<Error> next_start_error_;
  std::function<ExecResult(const ProcessSpec&)> exec_;
  std::chrono::milliseconds last_grace_{-1};
};

}  // namespace asb::runtime
