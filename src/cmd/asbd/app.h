// Assembly of the asbd daemon: state dir, token, store, API server, kubeconfig. main.cc parses
// flags into a DaemonConfig and calls RunServe; tests and benchmarks use Daemon directly.
//
// Extension points for the other roles (node agent, controllers, router) are marked
// "Hook:" in app.cc: each gets the shared Store and the config, starts in Daemon::Start after the
// API server, and stops in reverse order in Daemon::Stop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/api_server.h"
#include "apiserver/tls_front.h"
#include "base/result.h"
#include "http/server.h"
#include "store/sqlite_store.h"

namespace asb::asbd {

struct DaemonConfig {
  std::string state_dir;                      // required; created 0700 if missing
  std::string api_listen = "127.0.0.1:6443";  // host:port; port 0 picks a free port
  std::string router_listen = "127.0.0.1:8080";
  size_t max_request_bytes = 3 * 1024 * 1024;  // larger API bodies get 413
};

class Daemon {
 public:
  // Opens the store, loads or creates DIR/token (0600), starts the API server and writes
  // DIR/kubeconfig (0600) naming the bound address. Errors: kInvalidArgument (bad flags),
  // kFailedPrecondition (state dir in use), kUnavailable (address in use).
  [[nodiscard]] static Result<std::unique_ptr<Daemon>> Start(const DaemonConfig& config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Stops every component, newest first. Idempotent.
  void Stop();

  const std::string& api_url() const { return api_url_; }  // "https://127.0.0.1:6443"
  uint16_t api_port() const { return front_ ? front_->port() : 0; }
  const std::string& token() const { return token_; }
  const std::string& kubeconfig_path() const { return kubeconfig_path_; }
  store::Store& store() { return *store_; }

 private:
  Daemon() = default;
  DaemonConfig config_;
  std::string token_;
  std::string api_url_;
  std::string kubeconfig_path_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<apiserver::TlsFront> front_;
  bool stopped_ = false;
};

// Runs the daemon until SIGINT or SIGTERM. Returns the process exit code.
int RunServe(const DaemonConfig& config);

}  // namespace asb::asbd
