#include "agent/config.h"

#include <cmath>
#include <cstdlib>

#include "base/strings.h"

namespace asb::agent {

const char kAgentUsage[] =
    "usage: asb-agent [--host ADDR] [--port N] [--port-file PATH] [--max-body-bytes N]\n"
    "                 [--max-concurrent-execs N] [--max-output-bytes N]\n"
    "  --host ADDR          listen address (default 0.0.0.0)\n"
    "  --port N             listen port (default $PORT or 8888; 0 picks a free port)\n"
    "  --port-file PATH     write the bound port to PATH once listening\n"
    "  --max-body-bytes N   largest accepted request body (default 268435456)\n"
    "  --max-concurrent-execs N  commands running at once; more wait (default 64)\n"
    "  --max-output-bytes N output kept per stream of one command; the rest is discarded and\n"
    "                       the result says stdout_truncated/stderr_truncated (default 4194304)\n"
    "environment: SANDBOX_BASE_DIR (default /app), SANDBOX_EXEC_TIMEOUT_SECONDS (default 300)\n";

namespace {

Result<uint16_t> ParsePort(const std::string& what, const std::string& text) {
  auto v = ParseInt(text);
  if (!v || *v < 0 || *v > 65535) {
    return MakeError(Code::kInvalidArgument, what + ": invalid port '" + text + "'");
  }
  return static_cast<uint16_t>(*v);
}

}  // namespace

Result<AgentConfig> ParseAgentConfig(const std::vector<std::string>& args, const EnvLookup& env) {
  AgentConfig c;
  std::optional<std::string> port_flag;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      c.help = true;
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    if (StartsWith(arg, "--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "--host" || arg == "--port" || arg == "--port-file" ||
               arg == "--max-body-bytes" || arg == "--max-concurrent-execs" ||
               arg == "--max-output-bytes") {
      if (i + 1 >= args.size()) return MakeError(Code::kInvalidArgument, arg + " needs a value");
      value = args[++i];
    } else {
      return MakeError(Code::kInvalidArgument, "unknown argument '" + arg + "'");
    }
    if (arg == "--host") {
      if (value.empty()) return MakeError(Code::kInvalidArgument, "--host must not be empty");
      c.host = value;
    } else if (arg == "--port") {
      port_flag = value;
    } else if (arg == "--port-file") {
      c.port_file = value;
    } else if (arg == "--max-body-bytes") {
      auto v = ParseInt(value);
      if (!v || *v <= 0) {
        return MakeError(Code::kInvalidArgument, "--max-body-bytes: invalid size '" + value + "'");
      }
      c.max_body_bytes = static_cast<size_t>(*v);
    } else if (arg == "--max-concurrent-execs") {
      auto v = ParseInt(value);
      if (!v || *v <= 0 || *v > 100000) {
        return MakeError(Code::kInvalidArgument,
                         "--max-concurrent-execs: invalid count '" + value + "'");
      }
      c.max_concurrent_execs = static_cast<size_t>(*v);
    } else if (arg == "--max-output-bytes") {
      auto v = ParseInt(value);
      if (!v || *v <= 0 || *v > (int64_t{1} << 32)) {
        return MakeError(Code::kInvalidArgument,
                         "--max-output-bytes: invalid size '" + value + "'");
      }
      c.max_output_bytes = static_cast<size_t>(*v);
    } else {
      return MakeError(Code::kInvalidArgument, "unknown flag '" + arg + "'");
    }
  }
  if (port_flag) {
    ASB_ASSIGN_OR_RETURN(c.port, ParsePort("--port", *port_flag));
  } else if (auto p = env("PORT"); p && !p->empty()) {
    ASB_ASSIGN_OR_RETURN(c.port, ParsePort("PORT", *p));
  }
  if (auto dir = env("SANDBOX_BASE_DIR"); dir && !dir->empty()) {
    if ((*dir)[0] != '/') {
      return MakeError(Code::kInvalidArgument,
                       "SANDBOX_BASE_DIR must be an absolute path, got '" + *dir + "'");
    }
    c.base_dir = *dir;
  }
  if (auto t = env("SANDBOX_EXEC_TIMEOUT_SECONDS"); t && !t->empty()) {
    std::string text(Trim(*t));
    char* end = nullptr;
    double secs = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(secs) || secs <= 0 ||
        secs > 1e7) {
      c.warnings.push_back("invalid SANDBOX_EXEC_TIMEOUT_SECONDS '" + *t + "', using 300");
    } else {
      c.exec_timeout = std::chrono::milliseconds(static_cast<int64_t>(secs * 1000.0 + 0.5));
    }
  }
  return c;
}

}  // namespace asb::agent
