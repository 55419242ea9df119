#include "runtime/fake_runtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace asb::runtime {

Status FakeRuntime::Start(const SandboxSpec& spec) {
  std::lock_guard l(mu_);
  if (next_start_error_) {
    Error e = *next_start_error_;
    next_start_error_.reset();
    return tl::unexpected(e);
  }
  if (boxes_.count(spec.id) != 0) {
    return MakeError(Code::kAlreadyExists, "sandbox " + spec.id + " exists");
  }
  Box b;
  b.spec = spec;
  b.status.state = SandboxState::kRunning;
  b.status.started_at = std::chrono::system_clock::now();
  boxes_[spec.id] = b;
  ++starts_[spec.id];
  return OkStatus();
}

Result<SandboxStatus> FakeRuntime::Inspect(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = boxes_.find(id);
  if (it == boxes_.end()) return MakeError(Code::kNotFound, "no sandbox " + id);
  return it->second.status;
}

Status FakeRuntime::Stop(const std::string& id, std::chrono::milliseconds grace) {
  std::lock_guard l(mu_);
  last_grace_ = grace;
  if (boxes_.erase(id) != 0) stopped_.push_back(id);
  return OkStatus();
}

Result<UniqueFd> FakeRuntime::DialPort(const std::string& id, uint16_t port) {
  uint16_t host_port = 0;
  {
    std::lock_guard l(mu_);
    auto it = boxes_.find(id);
    if (it == boxes_.end()) return MakeError(Code::kNotFound, "no sandbox " + id);
    if (it->second.status.state != SandboxState::kRunning) {
      return MakeError(Code::kUnavailable, "sandbox " + id + " is not running");
    }
    auto f = forwards_.find(port);
    if (f == forwards_.end()) return MakeError(Code::kUnavailable, "connection refused");
    host_port = f->second;
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoUnexpected("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(host_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return MakeError(Code::kUnavailable, "connect: connection refused");
  }
  return fd;
}

Result<ExecResult> FakeRuntime::Exec(const std::string& id, const ProcessSpec& process,
                                     std::chrono::milliseconds) {
  std::function<ExecResult(const ProcessSpec&)> fn;
  {
    std::lock_guard l(mu_);
    auto it = boxes_.find(id);
    if (it == boxes_.end()) return MakeError(Code::kNotFound, "no sandbox " + id);
    fn = exec_;
  }
  if (!fn) return ExecResult{};
  return fn(process);
}

Result<std::vector<std::string>> FakeRuntime::List() {
  std::lock_guard l(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, b] : boxes_) ids.push_back(id);
  return ids;
}

void FakeRuntime::ForwardPort(uint16_t port, uint16_t host_port) {
  std::lock_guard l(mu_);
  forwards_[port] = host_port;
}

void FakeRuntime::Exit(const std::string& id, int exit_code, int signal, bool oom) {
  std::lock_guard l(mu_);
  auto it = boxes_.find(id);
  if (it == boxes_.end()) return;
  it->second.status.state = SandboxState::kExited;
  it->second.status.exit_code = exit_code;
  it->second.status.term_signal = signal;
  it->second.status.oom_killed = oom;
  it->second.status.finished_at = std::chrono::system_clock::now();
}

Status FakeRuntime::SetCpuIdle(const std::string& id, bool idle, const Limits& limits) {
  (void)limits;
  std::lock_guard l(mu_);
  auto it = boxes_.find(id);
  if (it == boxes_.end()) return MakeError(Code::kNotFound, "sandbox " + id + " not found");
  it->second.spec.limits.cpu_idle = idle;
  ++cpu_idle_writes_[id];
  return OkStatus();
}

int FakeRuntime::CpuIdleWrites(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = cpu_idle_writes_.find(id);
  return it == cpu_idle_writes_.end() ? 0 : it->second;
}

void FakeRuntime::Plant(const std::string& id, SandboxState state) {
  std::lock_guard l(mu_);
  Box b;
  b.spec.id = id;
  b.status.state = state;
  b.status.started_at = std::chrono::system_clock::now();
  boxes_[id] = b;
}

void FakeRuntime::FailNextStart(Error error) {
  std::lock_guard l(mu_);
  next_start_error_ = std::move(error);
}

void FakeRuntime::SetExecHandler(std::function<ExecResult(const ProcessSpec&)> fn) {
  std::lock_guard l(mu_);
  exec_ = std::move(fn);
}

bool FakeRuntime::Has(const std::string& id) {
  std::lock_guard l(mu_);
  return boxes_.count(id) != 0;
}

std::optional<SandboxSpec> FakeRuntime::SpecOf(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = boxes_.find(id);
  if (it == boxes_.end()) return std::nullopt;
  return it->second.spec;
}

int FakeRuntime::StartCount(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = starts_.find(id);
  return it == starts_.end() ? 0 : it->second;
}

std::vector<std::string> FakeRuntime::Stopped() {
  std::lock_guard l(mu_);
  return stopped_;
}

std::chrono::milliseconds FakeRuntime::LastGrace() {
  std::lock_guard l(mu_);
  return last_grace_;
}

}  // namespace asb::runtime
