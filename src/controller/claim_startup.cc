#include "controller/claim_startup.h"

#include "api/views.h"
#include "controller/object_util.h"
#include "metrics/metrics.h"

namespace asb::controller {

namespace {

std::optional<SystemTime> TimeAt(const Json& obj, const char* path) {
  std::string s = GetString(obj, path);
  if (s.empty()) return std::nullopt;
  return ParseRfc3339(s);
}

}  // namespace

Json ClaimStartup(const Json& claim, bool ready, SystemTime now) {
  Json startup = Json::object();
  if (const Json* old = Find(claim, "status.startup"); old && old->is_object()) startup = *old;
  if (!startup.contains("controllerObservedTime"))
    startup["controllerObservedTime"] = FormatRfc3339Micro(now);
  if (!startup.contains("firstReadyTime") && !startup.contains("firstReadyTimeUnavailable")) {
    if (ConditionTrue(claim, "Ready"))
      startup["firstReadyTimeUnavailable"] = true;
    else if (ready)
      startup["firstReadyTime"] = FormatRfc3339Micro(now);
  }
  return startup;
}

void RecordClaimStartup(const Json& before, const Json& status, const Json* sandbox) {
  if (Find(before, "status.startup.firstReadyTime")) return;  // recorded when it was set
  auto ready = TimeAt(status, "startup.firstReadyTime");
  if (!ready) return;
  static auto& total = metrics::Registry::Default().AddHistogram(
      "agent_sandbox_claim_startup_latency_ms",
      "End-to-end latency from SandboxClaim creation to SandboxClaim Ready state in "
      "milliseconds (creationTimestamp has 1 s resolution).",
      {"launch_type", "sandbox_template"}, metrics::LatencyBucketsMs());
  static auto& controller = metrics::Registry::Default().AddHistogram(
      "agent_sandbox_claim_controller_startup_latency_ms",
      "Latency from controller first observed SandboxClaim to Sandbox Ready state in "
      "milliseconds.",
      {"launch_type", "sandbox_template"}, metrics::LatencyBucketsMs());
  std::string launch = sandbox ? Label(*sandbox, kLabelLaunchType).value_or("unknown") : "unknown";
  if (launch != "warm" && launch != "cold") launch = "unknown";
  std::string tmpl = api::ClaimSourceOf(before).template_name;
  if (tmpl.empty() && sandbox) tmpl = Annotation(*sandbox, kAnnotationTemplateRef).value_or("");
  if (tmpl.empty()) tmpl = "unknown";
  auto ms = [&](SystemTime from) {
    return std::chrono::duration<double, std::milli>(*ready - from).count();
  };
  if (auto created = TimeAt(before, "metadata.creationTimestamp"))
    total.With({launch, tmpl}).Observe(std::max(0.0, ms(*created)));
  if (auto seen = TimeAt(status, "startup.controllerObservedTime"))
    controller.With({launch, tmpl}).Observe(std::max(0.0, ms(*seen)));
}

}  // namespace asb::controller
