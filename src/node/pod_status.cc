#include "node/pod_status.h"

#include <algorithm>

namespace asb::node {
namespace {

Json TerminatedJson(const TerminatedState& t) {
  Json j = {{"exitCode", t.exit_code}, {"reason", t.reason}};
  if (t.signal != 0) j["signal"] = t.signal;
  if (!t.message.empty()) j["message"] = t.message;
  if (t.started_at != SystemTime{}) j["startedAt"] = FormatRfc3339(t.started_at);
  if (t.finished_at != SystemTime{}) j["finishedAt"] = FormatRfc3339(t.finished_at);
  return j;
}

Json StateJson(const ContainerView& c) {
  switch (c.state) {
    case ContainerView::State::kWaiting: {
      Json w = {{"reason", c.waiting_reason}};
      if (!c.waiting_message.empty()) w["message"] = c.waiting_message;
      return {{"waiting", w}};
    }
    case ContainerView::State::kRunning:
      return {{"running", {{"startedAt", FormatRfc3339(c.started_at)}}}};
    case ContainerView::State::kTerminated:
      return {{"terminated", TerminatedJson(c.terminated)}};
  }
  return Json::object();
}

// Keeps lastTransitionTime when the condition's status is unchanged.
Json Condition(const Json& old_status, const std::string& type, bool value,
               const std::string& reason, const std::string& message, SystemTime now) {
  std::string status = value ? "True" : "False";
  std::string ltt = FormatRfc3339(now);
  if (const Json* conds = Find(old_status, "conditions"); conds && conds->is_array()) {
    for (const Json& c : *conds) {
      if (c.is_object() && c.value("type", Json("")) == type &&
          c.value("status", Json("")) == status && c.contains("lastTransitionTime") &&
          c["lastTransitionTime"].is_string()) {
        ltt = c["lastTransitionTime"].get<std::string>();
      }
    }
  }
  Json j = {
      {"type", type}, {"status", status}, {"lastProbeTime", nullptr}, {"lastTransitionTime", ltt}};
  if (!reason.empty()) j["reason"] = reason;
  if (!message.empty()) j["message"] = message;
  return j;
}

}  // namespace

std::string TerminatedReason(int exit_code, bool oom_killed) {
  if (oom_killed) return kReasonOomKilled;
  return exit_code == 0 ? kReasonCompleted : kReasonError;
}

std::string ComputePhase(const PodView& view) {
  if (view.failure) return "Failed";
  const ContainerView& c = view.container;
  switch (c.state) {
    case ContainerView::State::kRunning:
      return "Running";
    case ContainerView::State::kTerminated:
      return c.terminated.exit_code == 0 && c.terminated.reason != kReasonOomKilled ? "Succeeded"
                                                                                    : "Failed";
    case ContainerView::State::kWaiting:
      return c.last_terminated || c.restart_count > 0 ? "Running" : "Pending";
  }
  return "Pending";
}

Json ComputePodStatus(const Json& pod, const PodView& view, const Json& old_status,
                      SystemTime now) {
  const std::string phase = ComputePhase(view);
  const bool terminal = phase == "Succeeded" || phase == "Failed";
  const ContainerView& c = view.container;
  const bool ready = !terminal && c.state == ContainerView::State::kRunning && c.ready;

  // Container names and images as the spec states them.
  std::vector<std::pair<std::string, std::string>> specs;
  if (const Json* cs = Find(pod, "spec.containers"); cs && cs->is_array()) {
    for (const Json& cj : *cs) {
      if (!cj.is_object()) continue;
      specs.emplace_back(GetString(cj, "name"), GetString(cj, "image"));
    }
  }

  std::string not_ready_reason = terminal ? "PodCompleted" : "ContainersNotReady";
  std::string not_ready_message;
  if (!terminal) {
    std::string names;
    for (const auto& [name, image] : specs) names += (names.empty() ? "" : " ") + name;
    not_ready_message = "containers with unready status: [" + names + "]";
  }

  Json status = Json::object();
  status["phase"] = phase;
  Json conds = Json::array();
  conds.push_back(Condition(old_status, "Initialized", true, "", "", now));
  conds.push_back(Condition(old_status, "Ready", ready, ready ? "" : not_ready_reason,
                            ready ? "" : not_ready_message, now));
  conds.push_back(Condition(old_status, "ContainersReady", ready, ready ? "" : not_ready_reason,
                            ready ? "" : not_ready_message, now));
  conds.push_back(Condition(old_status, "PodScheduled", true, "", "", now));
  status["conditions"] = std::move(conds);
  if (view.failure) {
    status["reason"] = view.failure->reason;
    status["message"] = view.failure->message;
  }
  status["hostIP"] = "127.0.0.1";
  status["hostIPs"] = Json::array({{{"ip", "127.0.0.1"}}});
  if (!view.pod_ips.empty()) {
    status["podIP"] = view.pod_ips.front();
    Json ips = Json::array();
    for (const std::string& ip : view.pod_ips) ips.push_back({{"ip", ip}});
    status["podIPs"] = std::move(ips);
  }
  if (view.start_time != SystemTime{}) status["startTime"] = FormatRfc3339(view.start_time);

  Json statuses = Json::array();
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& [name, image] = specs[i];
    Json cs = {{"name", name}, {"image", image}, {"imageID", ""}};
    if (view.failure || i > 0) {
      cs["state"] = {{"waiting",
                      {{"reason", view.failure ? view.failure->reason : ""},
                       {"message", view.failure ? view.failure->message : ""}}}};
      cs["lastState"] = Json::object();
      cs["ready"] = false;
      cs["started"] = false;
      cs["restartCount"] = 0;
    } else {
      cs["imageID"] = c.image_id;
      if (!c.container_id.empty()) cs["containerID"] = c.container_id;
      cs["state"] = StateJson(c);
      cs["lastState"] = c.last_terminated ? Json{{"terminated", TerminatedJson(*c.last_terminated)}}
                                          : Json::object();
      cs["ready"] = ready;
      cs["started"] = c.state == ContainerView::State::kRunning;
      cs["restartCount"] = c.restart_count;
    }
    statuses.push_back(std::move(cs));
  }
  status["containerStatuses"] = std::move(statuses);
  if (const Json* qos = Find(old_status, "qosClass"); qos && qos->is_string()) {
    status["qosClass"] = *qos;  // immutable once set, as in Kubernetes
  } else if (!view.qos_class.empty()) {
    status["qosClass"] = view.qos_class;
  }
  return status;
}

}  // namespace asb::node
