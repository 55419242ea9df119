// Pod status the Kubernetes way, computed as a pure function of what the node knows about the
// pod's one container. The node writes the result with a status-only update when it differs from
// the stored status, so an idle pod costs no writes.
//
// podIP/podIPs are the sandbox's addresses on the pod network (net/pod_network.h) once it has
// started, kept after it stops as Kubernetes keeps them; empty when the pod network is off (the
// sandbox then has only lo, and the router reaches it through NodeAgent::DialPod by entering its
// network namespace).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json_util.h"
#include "node/pod_spec.h"

namespace asb::node {

struct TerminatedState {
  int exit_code = 0;
  int signal = 0;
  std::string reason;  // "Completed", "Error", "OOMKilled"
  std::string message;
  SystemTime started_at{};
  SystemTime finished_at{};
};

// What the node knows about the container.
struct ContainerView {
  enum class State { kWaiting, kRunning, kTerminated };
  State state = State::kWaiting;
  std::string waiting_reason = "ContainerCreating";  // kWaiting
  std::string waiting_message;
  SystemTime started_at{};     // kRunning
  TerminatedState terminated;  // kTerminated
  std::optional<TerminatedState> last_terminated;
  bool ready = false;
  int restart_count = 0;
  std::string image_id;
  std::string container_id;  // "<runtime>://<sandbox id>" once started
};

struct PodView {
  std::optional<PodFailure> failure;  // the pod can't run here: phase Failed
  SystemTime start_time{};            // when the node accepted the pod
  std::string qos_class;              // from ParsePod; "" when unknown
  std::vector<std::string> pod_ips;   // from Runtime::PodIPs once started
  ContainerView container;
};

// Container waiting/terminated reasons, as the kubelet reports them.
inline constexpr char kReasonContainerCreating[] = "ContainerCreating";
inline constexpr char kReasonErrImagePull[] = "ErrImagePull";
inline constexpr char kReasonImagePullBackOff[] = "ImagePullBackOff";
inline constexpr char kReasonCrashLoopBackOff[] = "CrashLoopBackOff";
inline constexpr char kReasonRunContainerError[] = "RunContainerError";
inline constexpr char kReasonCompleted[] = "Completed";
inline constexpr char kReasonError[] = "Error";
inline constexpr char kReasonOomKilled[] = "OOMKilled";

// Pending / Running / Succeeded / Failed from the container's state (kubelet getPhase for one
// container): a container that has run and waits to restart keeps the pod Running.
std::string ComputePhase(const PodView& view);

// The full status object. `old_status` supplies lastTransitionTime of conditions whose status
// didn't change; `now` stamps the others. Pure.
Json ComputePodStatus(const Json& pod, const PodView& view, const Json& old_status, SystemTime now);

// Terminated reason for an exit: "OOMKilled", "Completed" (exit 0), else "Error".
std::string TerminatedReason(int exit_code, bool oom_killed);

}  // namespace asb::node
