// How to reach and authenticate to a Kubernetes API server (kube-apiserver, or asbd's own API
// server in its role): the part of a kubeconfig client-go's rest.Config holds, read from a
// kubeconfig file (any kubectl accepts: YAML or JSON, current-context, certificate and key as
// inline *-data or as files relative to the kubeconfig) or from the in-cluster service account
// (KUBERNETES_SERVICE_HOST/PORT, token and ca.crt under
// /var/run/secrets/kubernetes.io/serviceaccount), as client-go's clientcmd and
// rest.InClusterConfig do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace asb::kube {

// users[].user.exec (client.authentication.k8s.io/v1 or v1beta1): a program that prints an
// ExecCredential, e.g. gke-gcloud-auth-plugin.
struct ExecConfig {
  std::string api_version = "client.authentication.k8s.io/v1";
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to this process's environment
};

struct RestConfig {
  std::string scheme = "https";  // "https", or "http" (no TLS: loopback test servers only)
  std::string host;              // name or address, without brackets
  uint16_t port = 443;
  std::string ca_pem;  // trusted roots (PEM); empty = the system's default roots
  bool insecure_skip_tls_verify = false;
  // SNI and certificate name to check instead of `host` (cluster.tls-server-name).
  std::string tls_server_name;
  std::string client_cert_pem;  // client certificate authentication (both or neither)
  std::string client_key_pem;
  std::string token;       // static bearer token
  std::string token_file;  // bearer token re-read from this file (service-account tokens rotate)
  std::optional<ExecConfig> exec;
  std::string namespace_name = "default";  // the context's (or the service account's) namespace
};

// Reads a kubeconfig file. kInvalidArgument naming what is missing or malformed; kNotFound when
// the file (or a file it names) is missing.
[[nodiscard]] Result<RestConfig> LoadKubeconfigFile(const std::string& path);
// Parses kubeconfig text; relative file paths in it are taken relative to `base_dir`.
[[nodiscard]] Result<RestConfig> ParseKubeconfigText(std::string_view text,
                                                     const std::string& base_dir);

inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";
// The in-cluster config: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, sa_dir/token (as a
// token file), sa_dir/ca.crt, sa_dir/namespace. kFailedPrecondition when not in a cluster.
[[nodiscard]] Result<RestConfig> InClusterConfig(const std::string& sa_dir = kServiceAccountDir);
// What every role's `--kubeconfig FILE` means: that file, or the in-cluster config when empty.
[[nodiscard]] Result<RestConfig> LoadRestConfig(const std::string& kubeconfig_path);

// "https://host:port" -> scheme, host, port (default 443 / 80). kInvalidArgument otherwise.
[[nodiscard]] Status ParseServerUrl(const std::string& url, RestConfig* config);

// The bearer token of `config` (its token, else the first line of its token file), or of
// `override_file` when given: what `asbd router` and `asbd node` expect their own clients to
// send (asbd's API server has one token). kInvalidArgument when there is none.
[[nodiscard]] Result<std::string> BearerToken(const RestConfig& config,
                                              const std::string& override_file = "");

// Standard base64 (kubeconfig *-data fields); nullopt on malformed input.
std::optional<std::string> Base64Decode(std::string_view data);

}  // namespace asb::kube
