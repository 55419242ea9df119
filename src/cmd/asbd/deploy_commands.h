// The asbd subcommands that put asb on a Kubernetes cluster (docs/deploy.md):
//   asbd crds                 prints the four CustomResourceDefinitions (api/crd.h) as YAML;
//   asbd conversion-webhook   serves their ConversionReviews over HTTPS (webhook/server.h).
// main.cc registers them with AddDeployCommands and runs whichever was chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

namespace asb::asbd {

struct DeployCommands {
  CLI::App* crds = nullptr;
  CLI::App* webhook = nullptr;
  // asbd crds
  std::string ca_bundle_file;
  // both: the webhook Service the CRDs point at, and whose names the certificate carries
  std::string service_name = "agent-sandbox-webhook-service";
  std::string service_namespace = "agent-sandbox-system";
  // asbd conversion-webhook
  std::string listen = "0.0.0.0:9443";
  std::string tls_cert;
  std::string tls_key;
  std::string self_signed_dir;
  bool certs_only = false;
  std::string cluster_domain = "cluster.local";
  std::vector<std::string> extra_hosts = {"localhost", "127.0.0.1"};
  size_t max_request_bytes = 64 * 1024 * 1024;
};

// Adds both subcommands to `app`; the returned options are filled in by app's parse.
std::unique_ptr<DeployCommands> AddDeployCommands(CLI::App& app);

// Runs the parsed subcommand and returns the exit code; -1 when neither was chosen.
int RunDeployCommand(const DeployCommands& commands);

}  // namespace asb::asbd
