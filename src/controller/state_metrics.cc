#include "controller/state_metrics.h"

#include <map>

#include "api/resource.h"
#include "base/log.h"
#include "controller/conditions.h"
#include "controller/object_util.h"

namespace asb::controller {

namespace {

// Upstream's created-by label; only known values become label values.
constexpr std::string_view kLabelCreatedBy = "agents.x-k8s.io/created-by";

std::string CreatedBy(const Json& sb) {
  std::string v = Label(sb, kLabelCreatedBy).value_or("");
  for (std::string_view known : {"go-client", "python-client", "controller"})
    if (v == known) return v;
  return "unknown";
}

}  // namespace

StateMetrics::StateMetrics(store::Store& store) : store_(store) {
  auto& r = metrics::Registry::Default();
  sandboxes_ = r.AddCollector("agent_sandboxes",
                              "Monitor the point-in-time number of sandboxes in the cluster.",
                              {"namespace", "ready_condition", "expired", "launch_type",
                               "sandbox_template", "owned_by", "created_by"},
                              [this] { return Sandboxes(); });
  pool_replicas_ = r.AddCollector("agent_sandbox_warmpool_replicas",
                                  "Members of each SandboxWarmPool (status.replicas).",
                                  {"namespace", "warmpool"}, [this] { return Pools(false); });
  pool_ready_ = r.AddCollector("agent_sandbox_warmpool_ready_replicas",
                               "Ready members of each SandboxWarmPool (status.readyReplicas).",
                               {"namespace", "warmpool"}, [this] { return Pools(true); });
}

std::vector<metrics::GaugeSample> StateMetrics::Sandboxes() {
  std::vector<metrics::GaugeSample> out;
  auto listed = store_.List(api::SandboxResource(), "", {});
  if (!listed) {
    ASB_LOG(WARN, "metrics: listing sandboxes failed", "error", listed.error().message);
    return out;
  }
  std::map<std::vector<std::string>, int> counts;
  for (const Json& sb : listed->items) {
    const Json* ready = FindCondition(sb, kCondReady);
    std::string launch = Label(sb, kLabelLaunchType).value_or("") == "warm" ? "warm" : "cold";
    std::string tmpl = Annotation(sb, kAnnotationTemplateRef).value_or("");
    std::string owned_by = "None";
    if (auto ref = ControllerRef(sb);
        ref && (ref->kind == "SandboxClaim" || ref->kind == "SandboxWarmPool"))
      owned_by = ref->kind;
    ++counts[{GetString(sb, "metadata.namespace"),
              ready && GetString(*ready, "status") == "True" ? "true" : "false",
              ready && GetString(*ready, "reason") == kReasonSandboxExpired ? "true" : "false",
              launch, tmpl.empty() ? "unknown" : tmpl, owned_by, CreatedBy(sb)}];
  }
  for (auto& [labels, n] : counts) out.push_back({labels, static_cast<double>(n)});
  return out;
}

std::vector<metrics::GaugeSample> StateMetrics::Pools(bool ready) {
  std::vector<metrics::GaugeSample> out;
  auto listed = store_.List(api::SandboxWarmPoolResource(), "", {});
  if (!listed) return out;
  for (const Json& pool : listed->items) {
    const Json* v = Find(pool, ready ? "status.readyReplicas" : "status.replicas");
    out.push_back({{GetString(pool, "metadata.namespace"), GetString(pool, "metadata.name")},
                   v && v->is_number() ? v->get<double>() : 0.0});
  }
  return out;
}

}  // namespace asb::controller
