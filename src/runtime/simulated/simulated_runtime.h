// SimulatedRuntime: sandboxes that are records, for scale tests only (`asbd serve --simulate`),
// as kwok's nodes are for upstream's controller benchmarks. Start returns at once, Inspect says
// Running until Stop removes the record; nothing is started, mounted or namespaced (no process,
// cgroup, overlay, netns or address), so DialPort and Exec fail with kUnavailable. Pods it runs
// carry containerID "simulated://<id>"; the node agent treats their readiness probes as passing
// (kwok marks pods Ready) and annotates them kSimulatedAnnotation. A node runs either this
// runtime or real ones, never both (node/simulated_node.h), so no test of isolation or behaviour
// can run against it. Records live in memory: a restarted asbd starts every pod again.
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace asb::runtime {

// On every pod a simulated node runs, and on its Node object where one is registered.
inline constexpr char kSimulatedAnnotation[] = "asb.dev/simulated";
inline constexpr char kSimulatedRuntimeName[] = "simulated";

class SimulatedRuntime final : public Runtime {
 public:
  std::string_view name() const override { return kSimulatedRuntimeName; }
  bool simulated() const override { return true; }
  Status Start(const SandboxSpec& spec) override;
  Result<SandboxStatus> Inspect(const std::string& id) override;
  Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  Result<UniqueFd> DialPort(const std::string& id, uint16_t port) override;
  Result<ExecResult> Exec(const std::string& id, const ProcessSpec& process,
                          std::chrono::milliseconds timeout) override;
  Result<std::vector<std::string>> List() override;

  size_t size();  // records held (the bench reads it through logs, tests directly)

 private:
  std::mutex mu_;
  std::map<std::string, SystemTime> started_;  // id -> Start time
};

}  // namespace asb::runtime
