// asbd: the embedded agent-sandbox daemon. Thin: flags -> DaemonConfig -> RunServe (app.h).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/log.h"
#include "client/kubeconfig.h"
#include "cmd/asbd/app.h"

#ifndef ASB_VERSION
#define ASB_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{"asbd: Kubernetes-compatible agent sandbox daemon"};
  app.set_version_flag("--version", std::string("asbd ") + ASB_VERSION);
  std::string level = "info";
  app.add_option("--v,--log-level", level, "log level: debug, info, warn, error");
  app.require_subcommand(1);

  asb::asbd::DaemonConfig config;
  config.state_dir = asb::client::DefaultStateDir();
  CLI::App* serve = app.add_subcommand("serve", "run the API server (and, later, every role)");
  serve->add_option("--state-dir", config.state_dir, "state directory")->capture_default_str();
  serve->add_option("--api-listen", config.api_listen, "API server address host:port")
      ->capture_default_str();
  serve->add_option("--router-listen", config.router_listen, "router address host:port")
      ->capture_default_str();
  serve
      ->add_option("--max-request-bytes", config.max_request_bytes,
                   "largest accepted API request body (413 above)")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  asb::log::Level parsed;
  if (!asb::log::ParseLevel(level, &parsed)) {
    fprintf(stderr, "asbd: bad --log-level \"%s\"\n", level.c_str());
    return 2;
  }
  asb::log::SetLevel(parsed);
  if (serve->parsed()) return asb::asbd::RunServe(config);
  return 2;
}
