// The kubeconfig asbd writes (DIR/kubeconfig, JSON, which is valid YAML) and clients read:
// server URL, bearer token, namespace, and the router address in the cluster extension
// "asb.dev/router". Readers accept any kubeconfig kubectl accepts for a token-auth http server
// (JSON or YAML, current-context selects cluster and user).
#pragma once

#include <cstdint>
#include <string>

#include "base/json_util.h"
#include "base/result.h"

namespace asb::client {

struct Kubeconfig {
  // "https://127.0.0.1:6443". asbd serves TLS (for kubectl, which only sends credentials over
  // TLS) and plaintext HTTP on the same port; asbctl talks plaintext to loopback.
  std::string server;
  std::string ca_data;  // base64 PEM (certificate-authority-data); empty = none
  std::string token;    // bearer token; empty = none
  std::string namespace_name = "default";
  std::string router_server;  // "http://127.0.0.1:8080"; empty when not named
};

// The document asbd writes.
Json KubeconfigJson(const Kubeconfig& kc);
// Writes KubeconfigJson atomically with mode 0600.
[[nodiscard]] Status WriteKubeconfig(const std::string& path, const Kubeconfig& kc);
// Parses JSON or YAML. kInvalidArgument naming what is missing.
[[nodiscard]] Result<Kubeconfig> ParseKubeconfig(std::string_view text);
// kNotFound when the file is missing (message names the path).
[[nodiscard]] Result<Kubeconfig> LoadKubeconfig(const std::string& path);

// "http[s]://host:port[/]" -> host, port. kInvalidArgument for other schemes or a missing port.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
[[nodiscard]] Result<HostPort> ParseHttpUrl(const std::string& url);
// "host:port" (IPv6 as "[::1]:port"); port may be 0.
[[nodiscard]] Result<HostPort> ParseHostPort(const std::string& text);

// $ASB_STATE_DIR, else /var/lib/asb for root, else $HOME/.local/state/asb.
std::string DefaultStateDir();
// $ASB_KUBECONFIG, else DefaultStateDir()/kubeconfig.
std::string DefaultKubeconfigPath();

}  // namespace asb::client
