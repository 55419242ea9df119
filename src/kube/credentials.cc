#include "kube/credentials.h"

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "sys/command.h"

namespace asb::kube {

namespace {
constexpr auto kTokenFileReread = std::chrono::minutes(1);
constexpr auto kExecTimeout = std::chrono::seconds(60);
// A token this close to its expiry is refreshed first, so a request does not leave with a
// token that expires on the way (client-go's exec plugin cache has the same slack idea).
constexpr auto kExpirySlack = std::chrono::seconds(10);
}  // namespace

Result<ExecToken> ParseExecCredential(std::string_view text) {
  auto doc = ParseJson(text);
  if (!doc || !doc->is_object())
    return MakeError(Code::kInvalidArgument, "exec plugin printed no ExecCredential JSON");
  if (GetString(*doc, "kind") != "ExecCredential")
    return MakeError(Code::kInvalidArgument, "exec plugin output is not kind ExecCredential");
  ExecToken out;
  out.token = GetString(*doc, "status.token");
  if (out.token.empty())
    return MakeError(Code::kInvalidArgument,
                     "exec plugin's ExecCredential has no status.token (client certificates from "
                     "plugins are not supported)");
  std::string exp = GetString(*doc, "status.expirationTimestamp");
  if (!exp.empty()) {
    out.expires = ParseRfc3339(exp);
    if (!out.expires)
      return MakeError(Code::kInvalidArgument,
                       "exec plugin's expirationTimestamp \"" + exp + "\" is not RFC 3339");
  }
  return out;
}

Credentials::Credentials(const RestConfig& config, Clock& clock) : config_(config), clock_(clock) {}

int Credentials::exec_runs() const {
  std::lock_guard l(mu_);
  return exec_runs_;
}

void Credentials::Invalidate() {
  std::lock_guard l(mu_);
  if (config_.exec || !config_.token_file.empty()) have_ = false;
}

Result<std::string> Credentials::RunExec() {
  const ExecConfig& exec = *config_.exec;
  // The plugin learns what is asked through KUBERNETES_EXEC_INFO (never interactive here: a
  // daemon has no terminal). `env` adds it and the config's variables to our environment.
  Json info = {{"apiVersion", exec.api_version},
               {"kind", "ExecCredential"},
               {"spec", {{"interactive", false}}}};
  std::vector<std::string> argv = {"env", "KUBERNETES_EXEC_INFO=" + DumpJson(info)};
  for (const auto& [k, v] : exec.env) argv.push_back(k + "=" + v);
  argv.push_back(exec.command);
  argv.insert(argv.end(), exec.args.begin(), exec.args.end());
  ++exec_runs_;
  auto ran = sys::RunCommand(argv, kExecTimeout, 1 << 20);
  if (!ran) return tl::unexpected(ran.error().Wrap("exec plugin " + exec.command));
  if (ran->timed_out)
    return MakeError(Code::kDeadlineExceeded, "exec plugin " + exec.command + " timed out");
  if (ran->exit_code != 0)
    return MakeError(Code::kUnavailable,
                     "exec plugin " + exec.command + " failed: " + std::string(Trim(ran->err)));
  auto parsed = ParseExecCredential(ran->out);
  if (!parsed) return tl::unexpected(parsed.error().Wrap("exec plugin " + exec.command));
  cached_ = parsed->token;
  expires_ = parsed->expires;
  have_ = true;
  return cached_;
}

Result<std::string> Credentials::BearerToken() {
  std::lock_guard l(mu_);
  SystemTime now = clock_.Now();
  if (config_.exec) {
    if (have_ && (!expires_ || now + kExpirySlack < *expires_)) return cached_;
    return RunExec();
  }
  if (!config_.token_file.empty()) {
    if (have_ && now - read_at_ < kTokenFileReread) return cached_;
    auto text = ReadFile(config_.token_file);
    if (!text) return tl::unexpected(text.error().Wrap("token file"));
    cached_ = std::string(Trim(*text));
    read_at_ = now;
    have_ = true;
    return cached_;
  }
  return config_.token;
}

}  // namespace asb::kube
