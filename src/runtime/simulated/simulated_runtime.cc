#include "runtime/simulated/simulated_runtime.h"

namespace asb::runtime {

namespace {

Error NothingRuns(const std::string& id, const char* what) {
  return Error{Code::kUnavailable, std::string(what) + ": sandbox " + id +
                                       " is simulated (asbd --simulate): it runs no process"};
}

}  // namespace

Status SimulatedRuntime::Start(const SandboxSpec& spec) {
  ASB_RETURN_IF_ERROR(ValidateSandboxId(spec.id));
  std::lock_guard l(mu_);
  if (!started_.emplace(spec.id, std::chrono::system_clock::now()).second)
    return MakeError(Code::kAlreadyExists, "sandbox " + spec.id + " exists");
  return OkStatus();
}

Result<SandboxStatus> SimulatedRuntime::Inspect(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = started_.find(id);
  if (it == started_.end()) return MakeError(Code::kNotFound, "no sandbox " + id);
  SandboxStatus status;
  status.state = SandboxState::kRunning;
  status.started_at = it->second;
  return status;
}

Status SimulatedRuntime::Stop(const std::string& id, std::chrono::milliseconds) {
  std::lock_guard l(mu_);
  started_.erase(id);
  return OkStatus();
}

Result<UniqueFd> SimulatedRuntime::DialPort(const std::string& id, uint16_t) {
  return tl::unexpected(NothingRuns(id, "dial"));
}

Result<ExecResult> SimulatedRuntime::Exec(const std::string& id, const ProcessSpec&,
                                          std::chrono::milliseconds) {
  return tl::unexpected(NothingRuns(id, "exec"));
}

Result<std::vector<std::string>> SimulatedRuntime::List() {
  std::lock_guard l(mu_);
  std::vector<std::string> ids;
  ids.reserve(started_.size());
  for (const auto& [id, at] : started_) ids.push_back(id);
  return ids;
}

size_t SimulatedRuntime::size() {
  std::lock_guard l(mu_);
  return started_.size();
}

}  // namespace asb::runtime
