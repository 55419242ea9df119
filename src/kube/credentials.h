// The bearer token a request carries: a static token, a token file re-read each minute (bound
// service-account tokens rotate, as client-go's cachingTokenSource re-reads them), or an exec
// credential plugin (client.authentication.k8s.io ExecCredential, e.g. gke-gcloud-auth-plugin):
// run the command, cache its token until status.expirationTimestamp (for ever without one),
// run it again after a 401. Thread-safe; the plugin runs under a lock, at most one at a time.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "kube/rest_config.h"

namespace asb::kube {

class Credentials {
 public:
  explicit Credentials(const RestConfig& config, Clock& clock = RealClock::Get());

  // "" when the config has no token source. Errors: the plugin failed (its stderr in the
  // message), or printed no usable ExecCredential; the token file is unreadable.
  [[nodiscard]] Result<std::string> BearerToken();
  // The server rejected the token (401): the next BearerToken re-runs the plugin / re-reads the
  // file.
  void Invalidate();
  // How many times the exec plugin ran (tests check the cache).
  int exec_runs() const;

 private:
  [[nodiscard]] Result<std::string> RunExec();

  const RestConfig config_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::string cached_;
  std::optional<SystemTime> expires_;  // nullopt with a cached token: valid until Invalidate
  SystemTime read_at_{};
  bool have_ = false;
  int exec_runs_ = 0;
};

// Parses an ExecCredential a plugin printed: status.token and status.expirationTimestamp.
struct ExecToken {
  std::string token;
  std::optional<SystemTime> expires;
};
[[nodiscard]] Result<ExecToken> ParseExecCredential(std::string_view text);

}  // namespace asb::kube
