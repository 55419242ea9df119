#include "cmd/asbd/template_policies.h"

#include <cstdlib>

#include "api/resource.h"
#include "base/log.h"
#include "controller/object_util.h"
#include "node/pod_spec.h"

namespace asb::asbd {
namespace {

constexpr std::chrono::seconds kRetry{1};

std::string KeyOf(const std::string& ns, const std::string& hash) { return ns + "/" + hash; }

}  // namespace

Status TemplatePolicies::Start(const std::set<std::string>& live) {
  ASB_ASSIGN_OR_RETURN(store::ListResult pods, store_.List(api::PodResource(), "", {}));
  for (const Json& pod : pods.items) {
    auto hash = controller::Label(pod, controller::kLabelTemplateRefHash);
    const std::string id = node::SandboxIdForUid(GetString(pod, "metadata.uid"));
    if (!hash || !live.count(id)) continue;
    ASB_RETURN_IF_ERROR(network_.Rejoin(id, KeyOf(GetString(pod, "metadata.namespace"), *hash)));
  }
  ASB_ASSIGN_OR_RETURN(int64_t revision, ApplyAll());
  thread_ = std::thread([this, revision] { Loop(revision); });
  return {};
}

void TemplatePolicies::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string TemplatePolicies::KeyFor(const runtime::SandboxSpec& spec) {
  auto ns = spec.labels.find(node::kLabelNamespace);
  auto name = spec.labels.find(node::kLabelName);
  if (ns == spec.labels.end() || name == spec.labels.end()) return "";
  auto pod = store_.Get(api::PodResource(), ns->second, name->second);
  if (!pod) return "";
  auto hash = controller::Label(*pod, controller::kLabelTemplateRefHash);
  return hash ? KeyOf(ns->second, *hash) : "";
}

Result<net::NetworkedRuntime::PodInfo> TemplatePolicies::PodInfoFor(
    const runtime::SandboxSpec& spec) {
  net::NetworkedRuntime::PodInfo out;
  auto ns = spec.labels.find(node::kLabelNamespace);
  auto name = spec.labels.find(node::kLabelName);
  if (ns == spec.labels.end() || name == spec.labels.end()) return out;
  auto pod = store_.Get(api::PodResource(), ns->second, name->second);
  if (!pod) return out;
  auto hash = controller::Label(*pod, controller::kLabelTemplateRefHash);
  if (hash) out.policy_key = KeyOf(ns->second, *hash);
  bool managed_default = false;
  if (hash) {
    std::lock_guard l(mu_);
    managed_default = managed_default_.count(out.policy_key) > 0;
  }
  const Json* pod_spec = Find(*pod, "spec");
  ASB_ASSIGN_OR_RETURN(out.resolv_conf, net::ResolvConfFor(pod_spec ? *pod_spec : Json::object(),
                                                           managed_default, dns_));
  return out;
}

Result<int64_t> TemplatePolicies::ApplyAll() {
  ASB_ASSIGN_OR_RETURN(store::ListResult list, store_.List(api::SandboxTemplateResource(), "", {}));
  std::set<std::string> before;
  before.swap(applied_);
  for (const Json& t : list.items) Apply(t);
  for (const std::string& key : before) {
    if (applied_.count(key)) continue;
    if (Status st = network_.SetPolicy(key, std::nullopt); !st) {
      ASB_LOG(WARN, "pod network: removing a template's policy", "key", key, "error",
              st.error().message);
    }
  }
  return list.resource_version;
}

void TemplatePolicies::Apply(const Json& tmpl) {
  const std::string ns = GetString(tmpl, "metadata.namespace");
  const std::string name = GetString(tmpl, "metadata.name");
  const std::string key = KeyOf(ns, controller::NameHash(name));
  const Json* given = Find(tmpl, "spec.networkPolicy");
  std::optional<net::NetworkPolicy> policy;
  if (GetString(tmpl, "spec.networkPolicyManagement", "Managed") != "Unmanaged" && given &&
      !given->is_null()) {
    auto parsed = net::ParseNetworkPolicy(*given);
    if (parsed) {
      policy = std::move(*parsed);
    } else {
      ASB_LOG(WARN,
              "pod network: template's networkPolicy not understood; its sandboxes get none "
              "in or out",
              "template", ns + "/" + name, "error", parsed.error().message);
      policy = net::NetworkPolicy{};  // empty lists: nothing allowed either way
    }
  }
  if (policy) applied_.insert(key);
  {
    std::lock_guard l(mu_);
    const bool managed = GetString(tmpl, "spec.networkPolicyManagement", "Managed") != "Unmanaged";
    if (managed && (!given || given->is_null())) {
      managed_default_.insert(key);
    } else {
      managed_default_.erase(key);
    }
  }
  if (Status st = network_.SetPolicy(key, policy); !st) {
    ASB_LOG(WARN, "pod network: applying a template's networkPolicy", "template", ns + "/" + name,
            "error", st.error().message);
  }
}

void TemplatePolicies::Loop(int64_t revision) {
  while (!stopping_) {
    store::WatchOptions wo;
    wo.resource_version = revision;
    auto w = store_.Watch(api::SandboxTemplateResource(), "", wo);
    while (w && !stopping_) {
      auto ev = (*w)->Next(std::chrono::milliseconds(200));
      if (!ev) break;  // kGone: list again
      if (!ev->has_value()) continue;
      const store::WatchEvent& e = **ev;
      if (e.type == store::EventType::kBookmark) continue;
      const std::string rv = GetString(e.object, "metadata.resourceVersion");
      if (!rv.empty())
        revision = std::max<int64_t>(revision, std::strtoll(rv.c_str(), nullptr, 10));
      if (e.type == store::EventType::kDeleted) {
        const std::string key = KeyOf(GetString(e.object, "metadata.namespace"),
                                      controller::NameHash(GetString(e.object, "metadata.name")));
        applied_.erase(key);
        {
          std::lock_guard l(mu_);
          managed_default_.erase(key);
        }
        if (Status st = network_.SetPolicy(key, std::nullopt); !st) {
          ASB_LOG(WARN, "pod network: removing a template's policy", "key", key, "error",
                  st.error().message);
        }
      } else {
        Apply(e.object);
      }
    }
    if (stopping_) break;
    if (!w) ASB_LOG(WARN, "pod network: watching templates failed", "error", w.error().message);
    std::this_thread::sleep_for(kRetry);
    if (auto r = ApplyAll()) revision = *r;
  }
}

}  // namespace asb::asbd
