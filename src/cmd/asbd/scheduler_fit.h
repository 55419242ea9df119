// The scheduler role's decisions, pure (scheduler.h runs them over watch caches): what a pod
// requests, which registered nodes can take pods, and which one fits a pod best — kube-scheduler's
// basic filters (node Ready and heartbeating, NodeResourcesFit on cpu, memory and pod count) and
// its default score (LeastAllocated: the node left with the largest free share of cpu and memory,
// averaged), ties broken by name so one input gives one answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json_util.h"

namespace asb::asbd {

struct Resources {
  int64_t cpu_milli = 0;
  int64_t memory_bytes = 0;
};

// Sum of the containers' requests, or the largest init container's where larger (Kubernetes'
// effective request). Limits stand in for missing requests, as the API server defaults them.
Resources PodRequests(const Json& pod);
// What a pod counts for when nodes are scored: kube-scheduler's non-zero defaults (100m cpu,
// 200 MiB) for a BestEffort pod, so such pods still spread.
Resources ScoringRequests(const Resources& requested);

struct NodeCapacity {
  std::string name;
  Resources allocatable;
  int64_t max_pods = 110;
  Resources requested;  // by the pods bound to it that have not finished
  Resources scoring;    // the same with ScoringRequests per pod
  int64_t pods = 0;
};

// A node takes new pods when its Ready condition is True and its heartbeat Lease (nullptr: none)
// was renewed within its leaseDurationSeconds of `now`, and it is not cordoned
// (spec.unschedulable). `why` says what is missing otherwise.
bool NodeSchedulable(const Json& node, const Json* lease, SystemTime now, std::string* why);
// From status.allocatable (else capacity): cpu, memory, pods.
NodeCapacity CapacityOf(const Json& node);
// True for pods that hold their node's resources: bound, not Succeeded or Failed.
bool HoldsResources(const Json& pod);

// The best node for `req` among `nodes`, or nullopt with the count of nodes per reason they
// did not fit in `reasons` ("Insufficient cpu" -> 2).
std::optional<std::string> PickNode(const std::vector<NodeCapacity>& nodes, const Resources& req,
                                    std::map<std::string, int>* reasons);
// kube-scheduler's message: "0/3 nodes are available: 1 Insufficient cpu, 2 not ready."
std::string UnschedulableMessage(size_t nodes, const std::map<std::string, int>& reasons);

}  // namespace asb::asbd
