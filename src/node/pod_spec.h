// Pure translation of a Kubernetes Pod (unstructured JSON) into what the node runs: the subset of
// the pod spec the embedded node supports, parsed and validated up front so that a pod the node
// can't run fails at once with a reason a user can act on, instead of half-starting.
//
// Supported: one container; image; command/args (Kubernetes semantics over the image's
// entrypoint/cmd, with $(VAR) expansion); env with literal values; workingDir; ports;
// readinessProbe (httpGet over HTTP, tcpSocket, exec); resources; restartPolicy;
// securityContext.runAsUser/runAsGroup (pod or container level); runtimeClassName;
// terminationGracePeriodSeconds.
//
// Resources: memory and ephemeral-storage take the limit, or the request when no limit is given:
// untrusted code must not be able to eat the host's memory or disk, and the request is the only
// size the user stated. CPU follows Kubernetes exactly: only a limit becomes a quota. A request
// is a share, and turning the seed's 250m request into a quota throttled every exec (p99 75 ms)
// and gVisor's boot.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json_util.h"
#include "base/result.h"
#include "image/image_resolver.h"
#include "runtime/runtime.h"

namespace asb::node {

// Why a pod can't run on this node; becomes status.reason / status.message of a Failed pod.
struct PodFailure {
  std::string reason;  // CamelCase, stable
  std::string message;
};

inline constexpr char kReasonMultipleContainers[] = "MultipleContainersUnsupported";
inline constexpr char kReasonUnsupportedPodSpec[] = "UnsupportedPodSpec";
inline constexpr char kReasonInvalidPodSpec[] = "InvalidPodSpec";
inline constexpr char kReasonRuntimeClassNotFound[] = "RuntimeClassNotFound";

enum class RestartPolicy { kAlways, kOnFailure, kNever };

struct ProbeSpec {
  enum class Kind { kHttpGet, kTcpSocket, kExec };
  Kind kind = Kind::kTcpSocket;
  uint16_t port = 0;  // httpGet, tcpSocket (named ports already resolved)
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> http_headers;
  std::vector<std::string> command;  // exec
  std::chrono::milliseconds initial_delay{0};
  std::chrono::milliseconds period{10000};
  std::chrono::milliseconds timeout{1000};
  int success_threshold = 1;
  int failure_threshold = 3;
};

struct ContainerPort {
  std::string name;
  uint16_t port = 0;
  std::string protocol = "TCP";
};

struct ContainerPlan {
  std::string name;
  std::string image;
  std::string image_pull_policy;  // "" = the kubelet's default for the image
  // Kubernetes treats an empty list like an absent one.
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // literal values, in spec order
  std::string working_dir;
  std::vector<ContainerPort> ports;
  std::optional<ProbeSpec> readiness;
  runtime::Limits limits;
  std::optional<uint32_t> run_as_user;
  std::optional<uint32_t> run_as_group;
};

struct PodPlan {
  std::string ns;
  std::string name;
  std::string uid;
  std::string runtime_class;  // "" when unset (the node's default applies)
  RestartPolicy restart_policy = RestartPolicy::kAlways;
  std::chrono::seconds termination_grace{30};
  std::string qos_class;  // Guaranteed, Burstable, BestEffort
  // spec.imagePullSecrets[].name: Secrets in the pod's namespace, tried in order.
  std::vector<std::string> image_pull_secrets;
  ContainerPlan container;
};

// Parses and validates the pod. Pure.
[[nodiscard]] tl::expected<PodPlan, PodFailure> ParsePod(const Json& pod);

// Kubernetes command/args semantics: command replaces the image entrypoint (and drops its cmd),
// args replace the image cmd. kInvalidArgument when the result is empty.
[[nodiscard]] Result<std::vector<std::string>> ResolveArgv(
    const std::vector<std::string>& command, const std::vector<std::string>& args,
    const std::vector<std::string>& entrypoint, const std::vector<std::string>& cmd);

// `argv` with the image's exec agent in front (asb-agent --port P -- argv...) when the image has
// one, argv is not already it and the container does not declare the agent's port.
std::vector<std::string> WithExecAgent(std::vector<std::string> argv,
                                       const image::ResolvedImage& image, const ContainerPlan& c);

// Kubernetes $(VAR) expansion: "$(NAME)" becomes NAME's value when defined (else is kept as is),
// "$$" becomes "$".
std::string ExpandVars(std::string_view in,
                       const std::vector<std::pair<std::string, std::string>>& env);

// "Always" -> kAlways, etc. Pure.
std::string_view RestartPolicyName(RestartPolicy p);

// The sandbox id for a pod uid: lowercase [a-z0-9-], at most 63 characters.
std::string SandboxIdForUid(std::string_view uid);

// The sandbox to start for the pod with its resolved image. Pure. Errors: kInvalidArgument
// (nothing to run).
[[nodiscard]] Result<runtime::SandboxSpec> BuildSandboxSpec(const PodPlan& plan,
                                                            const image::ResolvedImage& image);

// Labels every sandbox carries, so a restarted asbd (and `ps`-style tools) can tell whose it is.
inline constexpr char kLabelNamespace[] = "asb.dev/pod-namespace";
inline constexpr char kLabelName[] = "asb.dev/pod-name";
inline constexpr char kLabelUid[] = "asb.dev/pod-uid";

}  // namespace asb::node
