// asb-agent's settings: flags, then environment variables, then defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace asb::agent {

struct AgentConfig {
  std::string host = "0.0.0.0";                    // --host
  uint16_t port = 8888;                            // --port, else $PORT; 0 = any free port
  std::string port_file;                           // --port-file: write the bound port here
  std::string base_dir = "/app";                   // $SANDBOX_BASE_DIR; created if missing
  std::chrono::milliseconds exec_timeout{300000};  // $SANDBOX_EXEC_TIMEOUT_SECONDS
  size_t max_body_bytes = 256u << 20;              // --max-body-bytes
  size_t max_concurrent_execs = 64;                // --max-concurrent-execs; more calls wait
  size_t max_output_bytes = 4u << 20;              // --max-output-bytes: kept per exec stream
  std::vector<std::string> warnings;               // non-fatal problems, for main to log
  bool help = false;                               // --help was given
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses argv (without argv[0]) and the environment. kInvalidArgument names a bad or unknown
// flag. An invalid SANDBOX_EXEC_TIMEOUT_SECONDS is not an error: like the upstream server it
// falls back to 300 s and adds a warning.
[[nodiscard]] Result<AgentConfig> ParseAgentConfig(const std::vector<std::string>& args,
                                                   const EnvLookup& env);

extern const char kAgentUsage[];

}  // namespace asb::agent
