// Runs commands for POST /execute: argv without a shell, in its own session (so its whole process
// group can be killed), stdin from /dev/null, stdout and stderr captured up to a cap each
// (kDefaultMaxOutputBytes unless configured): beyond it the output is read and discarded, so a
// command printing 200 MB neither blocks on a full pipe nor grows the agent, and the result says
// `stdout_truncated` / `stderr_truncated`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace asb::agent {

// 4 MiB per stream: both streams of one result stay under the 16 MB that upstream's Go SDK
// accepts for a Run response, JSON escaping included for text.
inline constexpr size_t kDefaultMaxOutputBytes = 4u << 20;

struct ExecResult {
  std::string stdout_data;
  std::string stderr_data;
  // Python's Popen.returncode: the exit status, or -N when killed by signal N.
  int exit_code = 0;
  bool stdout_truncated = false;  // more output than the cap was produced and discarded
  bool stderr_truncated = false;
  bool timed_out = false;  // RunCommand: the limit passed and the process group was killed
};

class ExecService {
 public:
  // `cwd`: directory commands run in. `default_timeout`: used when a call passes none.
  // `max_concurrent`: commands running at once; further calls wait for a slot, and the wait
  // counts against their timeout (a server limit so a flood of requests can't fork-bomb the
  // sandbox through the agent).
  // `max_output_bytes`: kept per stream (stdout, stderr) of one command.
  ExecService(std::string cwd, std::chrono::milliseconds default_timeout,
              size_t max_concurrent = 64, size_t max_output_bytes = kDefaultMaxOutputBytes)
      : cwd_(std::move(cwd)),
        default_timeout_(default_timeout),
        max_concurrent_(max_concurrent),
        max_output_bytes_(max_output_bytes) {}
  ExecService(const ExecService&) = delete;
  ExecService& operator=(const ExecService&) = delete;

  // Runs argv[0] (searched in $PATH unless it contains '/') with argv, in a new session and
  // process group, with the agent's environment and signal dispositions reset to default.
  // Returns once the child has exited and both pipes reached EOF (background processes that
  // keep the pipes open extend the wait, as with Python's communicate()). On timeout the whole
  // process group gets SIGKILL and the call returns kDeadlineExceeded. Spawn failures return
  // the errno code with a Python-style message ("[Errno 2] No such file or directory: 'x'").
  // kInvalidArgument for an empty argv. Thread-safe: concurrent calls run concurrently.
  [[nodiscard]] Result<ExecResult> Run(
      const std::vector<std::string>& argv,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;

  // The upstream /execute behaviour: shlex-split `command`, Run it, and turn any failure
  // (quoting error, unknown binary, timeout) into exit_code 1, empty stdout and stderr
  // "Failed to execute command: <reason>"; a timeout also sets timed_out. Output newlines are
  // normalised like Python's text mode (CRLF and CR become LF). Never fails.
  ExecResult RunCommand(std::string_view command,
                        std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;

  // Runs `argv` `runs` times through Run, before the server listens, and returns how long each
  // took (a failed run counts too; its error is not kept). Why: on gVisor's ptrace platform the
  // first command after start pays for state the sentry builds on first use (a stub process
  // for the new address space, the stub threads that trace it, the shared libraries' pages and
  // the PATH lookups in the sentry's caches): inside the agent 30-40 ms against 11-15 for the
  // next ones. Running the very path a request takes (same spawn, task group and PATH search)
  // moves most of that into the sandbox's start, before its readiness probe can answer. What
  // is left: a stub thread is made for each sentry thread that first runs a given address
  // space, so the first few requests still add one or two (see cmd/asb-agent for figures).
  // Nothing of a warm-up run outlives it: each is a process of its own, reaped, started with
  // the agent's environment like every command.
  std::vector<std::chrono::microseconds> WarmUp(const std::vector<std::string>& argv,
                                                int runs) const;

  const std::string& cwd() const { return cwd_; }
  std::chrono::milliseconds default_timeout() const { return default_timeout_; }

 private:
  std::string cwd_;
  std::chrono::milliseconds default_timeout_;
  const size_t max_concurrent_;
  const size_t max_output_bytes_;
  mutable std::mutex mu_;
  mutable std::condition_variable slot_freed_;
  mutable size_t running_ = 0;  // guarded by mu_
};

// Python's universal-newlines translation: "\r\n" and "\r" become "\n".
std::string TranslateNewlines(std::string text);

}  // namespace asb::agent
