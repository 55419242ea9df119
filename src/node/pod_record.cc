#include "node/pod_record.h"

#include "node/pod_spec.h"

namespace asb::node {
namespace {

std::optional<SystemTime> TimeAt(const Json& j, std::string_view path) {
  std::string s = GetString(j, path);
  if (s.empty()) return std::nullopt;
  return ParseRfc3339(s);
}

std::optional<TerminatedState> TerminatedFromJson(const Json* t) {
  if (t == nullptr || !t->is_object()) return std::nullopt;
  TerminatedState s;
  if (const Json* e = Find(*t, "exitCode"); e && e->is_number_integer()) s.exit_code = *e;
  if (const Json* e = Find(*t, "signal"); e && e->is_number_integer()) s.signal = *e;
  s.reason = GetString(*t, "reason");
  s.message = GetString(*t, "message");
  s.started_at = TimeAt(*t, "startedAt").value_or(SystemTime{});
  s.finished_at = TimeAt(*t, "finishedAt").value_or(SystemTime{});
  return s;
}

}  // namespace

std::string PodKey(const Json& pod) {
  return GetString(pod, "metadata.namespace", "default") + "/" + GetString(pod, "metadata.name");
}

PodRecord RestorePodRecord(const std::string& key, const Json& pod, const PodRecordOptions& options,
                           SystemTime now) {
  PodRecord rec{.pod = {},
                .sandbox = {},
                .view = {},
                .probe = ProbeTracker(options.first_probe_interval),
                .restart = RestartTracker(options.backoff)};
  rec.pod.key = key;
  rec.pod.ns = GetString(pod, "metadata.namespace", "default");
  rec.pod.name = GetString(pod, "metadata.name");
  rec.pod.uid = GetString(pod, "metadata.uid");
  rec.sandbox.id = SandboxIdForUid(rec.pod.uid);
  const Json status = pod.value("status", Json::object());
  rec.view.start_time = TimeAt(status, "startTime").value_or(SystemTime{});
  ContainerView& c = rec.view.container;
  if (const Json* cs = Find(status, "containerStatuses");
      cs && cs->is_array() && !cs->empty() && (*cs)[0].is_object()) {
    const Json& s = (*cs)[0];
    if (const Json* rc = Find(s, "restartCount"); rc && rc->is_number_integer()) {
      c.restart_count = rc->get<int>();
    }
    c.image_id = GetString(s, "imageID");
    c.ready = s.value("ready", Json(false)) == Json(true);
    c.last_terminated = TerminatedFromJson(Find(s, "lastState.terminated"));
    if (!GetString(s, "containerID").empty()) rec.restart.MarkHasRun();
    if (auto t = TerminatedFromJson(Find(s, "state.terminated"))) {
      c.state = ContainerView::State::kTerminated;
      c.terminated = *t;
    } else if (const Json* r = Find(s, "state.running"); r && r->is_object()) {
      // It was running when the last agent stopped; recovery re-adopts it if it still runs.
      c.started_at = TimeAt(*r, "startedAt").value_or(SystemTime{});
      TerminatedState lost;
      lost.exit_code = 137;
      lost.reason = "ContainerStatusUnknown";
      lost.message = "the sandbox was gone when the node agent restarted";
      lost.started_at = c.started_at;
      lost.finished_at = now;
      c.last_terminated = lost;
    }
  }
  if (c.state != ContainerView::State::kTerminated) c.ready = c.ready && rec.restart.has_run();
  // A pod that failed is failed for good (Kubernetes phases never leave Failed), even if a
  // restarted node could now run it.
  if (GetString(status, "phase") == "Failed" && c.state != ContainerView::State::kTerminated &&
      !GetString(status, "reason").empty()) {
    rec.view.failure = PodFailure{GetString(status, "reason"), GetString(status, "message")};
  }
  return rec;
}

}  // namespace asb::node
