#include "cmd/asbd/config.h"

#include <set>
#include <tuple>

#include "api/quantity.h"
#include "base/file_util.h"
#include "base/strings.h"
#include "image/image_store.h"
#include "net/ip.h"

namespace asb::asbd {

namespace {

Status Bad(const std::string& path, const std::string& problem) {
  return MakeError(Code::kInvalidArgument, path + ": " + problem);
}

template <class T>
Status Take(const Json& obj, const std::string& key, const std::string& path, T* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return Bad(path + "/" + key, "must be a string");
    *out = it->template get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return Bad(path + "/" + key, "must be true or false");
    *out = it->template get<bool>();
  } else {
    if (!it->is_number_integer() || it->template get<int64_t>() < 0)
      return Bad(path + "/" + key, "must be a non-negative integer");
    *out = static_cast<T>(it->template get<int64_t>());
  }
  return {};
}

}  // namespace

std::vector<ImageAliasConfig> DefaultImageAliases() {
  std::vector<ImageAliasConfig> out;
  for (const auto& a : image::DefaultAliases()) out.push_back({a.pattern, a.target});
  return out;
}

Status ApplyConfigJson(const Json& file, DaemonConfig* config) {
  if (!file.is_object()) return Bad("", "config must be a JSON object");
  // Parse into a copy so a bad file changes nothing; every key parsed is recorded, and whatever
  // the file holds beyond those is an unknown key.
  DaemonConfig parsed = *config;
  DaemonConfig* c = &parsed;
  std::set<std::string> known = {"imageAliases", "insecureRegistries", "registryMirrors", "images"};
  auto take = [&](const char* key, auto* out) {
    known.insert(key);
    return Take(file, key, "", out);
  };
  ASB_RETURN_IF_ERROR(take("stateDir", &c->state_dir));
  ASB_RETURN_IF_ERROR(take("apiListen", &c->api_listen));
  ASB_RETURN_IF_ERROR(take("routerListen", &c->router_listen));
  ASB_RETURN_IF_ERROR(take("maxRequestBytes", &c->max_request_bytes));
  ASB_RETURN_IF_ERROR(take("nodeName", &c->node_name));
  ASB_RETURN_IF_ERROR(take("defaultRuntimeClass", &c->default_runtime_class));
  ASB_RETURN_IF_ERROR(take("nodeWorkers", &c->node_workers));
  ASB_RETURN_IF_ERROR(take("enableNative", &c->enable_native));
  ASB_RETURN_IF_ERROR(take("gvisor", &c->gvisor));
  ASB_RETURN_IF_ERROR(take("runscPath", &c->runsc_path));
  ASB_RETURN_IF_ERROR(take("runscPlatform", &c->runsc_platform));
  ASB_RETURN_IF_ERROR(take("controllerWorkers", &c->controller_workers));
  ASB_RETURN_IF_ERROR(take("podNetwork", &c->pod_network));
  ASB_RETURN_IF_ERROR(take("podCIDR", &c->pod_cidr));
  ASB_RETURN_IF_ERROR(take("podBridge", &c->pod_bridge));
  ASB_RETURN_IF_ERROR(take("podNftTable", &c->pod_nft_table));
  ASB_RETURN_IF_ERROR(take("cgroupParent", &c->cgroup_parent));
  ASB_RETURN_IF_ERROR(take("podEgress", &c->pod_egress));
  ASB_RETURN_IF_ERROR(take("podNetnsPool", &c->pod_netns_pool));
  ASB_RETURN_IF_ERROR(take("podDNSNameservers", &c->pod_dns_nameservers));
  ASB_RETURN_IF_ERROR(take("podDNSResolver", &c->pod_dns_resolver));
  ASB_RETURN_IF_ERROR(take("maxVolumeBytes", &c->max_volume_bytes));
  ASB_RETURN_IF_ERROR(take("simulate", &c->simulate));
  ASB_RETURN_IF_ERROR(take("hostLimits", &c->host_limits));
  ASB_RETURN_IF_ERROR(take("refillAfterClaimMillis", &c->refill_after_claim_ms));
  if (c->refill_after_claim_ms < 0 || c->refill_after_claim_ms > 10000)
    return Bad("/refillAfterClaimMillis", "must be 0 to 10000 (milliseconds), got " +
                                              std::to_string(c->refill_after_claim_ms));
  ASB_RETURN_IF_ERROR(take("defaultRegistry", &c->default_registry));
  if (auto it = file.find("insecureRegistries"); it != file.end()) {
    if (!it->is_array()) return Bad("/insecureRegistries", "must be a list of host[:port]");
    c->insecure_registries.clear();
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string() || (*it)[i].get<std::string>().empty()) {
        return Bad("/insecureRegistries/" + std::to_string(i), "must be a host[:port] string");
      }
      c->insecure_registries.push_back((*it)[i].get<std::string>());
    }
  }
  if (auto it = file.find("registryMirrors"); it != file.end()) {
    if (!it->is_object())
      return Bad("/registryMirrors", "must map a registry host to a list of mirror hosts");
    c->registry_mirrors.clear();
    for (const auto& [host, list] : it->items()) {
      std::string path = "/registryMirrors/" + host;
      if (!list.is_array()) return Bad(path, "must be a list of host[:port]");
      for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string() || list[i].get<std::string>().empty() ||
            list[i].get<std::string>().find('/') != std::string::npos)
          return Bad(path + "/" + std::to_string(i), "must be a host[:port] string");
        c->registry_mirrors[host].push_back(list[i].get<std::string>());
      }
    }
  }
  if (auto it = file.find("images"); it != file.end()) {
    if (!it->is_object()) return Bad("/images", "must be an object {diskBudget}");
    for (const auto& [key, value] : it->items()) {
      if (key != "diskBudget") return Bad("/images/" + key, "unknown key");
      if (value.is_number_integer() && value.get<int64_t>() >= 0) {
        c->image_disk_budget_bytes = value.get<int64_t>();
        continue;
      }
      auto bytes = value.is_string() ? api::ParseQuantityValue(value.get<std::string>())
                                     : Result<int64_t>(MakeError(Code::kInvalidArgument, ""));
      if (!bytes || *bytes < 0)
        return Bad("/images/diskBudget", "must be a size such as \"10Gi\" or a byte count");
      c->image_disk_budget_bytes = *bytes;
    }
  }
  for (const auto& item : file.items())
    if (!known.count(item.key())) return Bad("/" + item.key(), "unknown key");
  if (auto it = file.find("imageAliases"); it != file.end()) {
    if (!it->is_array()) return Bad("/imageAliases", "must be a list");
    c->image_aliases.clear();
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& a = (*it)[i];
      std::string path = "/imageAliases/" + std::to_string(i);
      if (!a.is_object()) return Bad(path, "must be an object {pattern, image}");
      for (const auto& [key, value] : a.items()) {
        (void)value;
        if (key != "pattern" && key != "image") return Bad(path + "/" + key, "unknown key");
      }
      ImageAliasConfig alias;
      ASB_RETURN_IF_ERROR(Take(a, "pattern", path, &alias.pattern));
      ASB_RETURN_IF_ERROR(Take(a, "image", path, &alias.image));
      if (alias.pattern.empty()) return Bad(path + "/pattern", "required");
      if (alias.image.empty()) return Bad(path + "/image", "required");
      c->image_aliases.push_back(std::move(alias));
    }
  }
  *config = std::move(parsed);
  return {};
}

Status LoadConfigFile(const std::string& path, DaemonConfig* config) {
  ASB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto json = ParseJson(text);
  if (!json) return tl::unexpected(json.error().Wrap(path));
  auto applied = ApplyConfigJson(*json, config);
  if (!applied) return tl::unexpected(applied.error().Wrap(path));
  return {};
}

Status Validate(const DaemonConfig& c) {
  if (c.state_dir.empty()) return Bad("/stateDir", "required");
  if (c.gvisor != "auto" && c.gvisor != "on" && c.gvisor != "off")
    return Bad("/gvisor", "unknown value \"" + c.gvisor + "\" (auto, on, off)");
  if (c.default_runtime_class != "native" && c.default_runtime_class != "gvisor")
    return Bad("/defaultRuntimeClass",
               "unknown value \"" + c.default_runtime_class + "\" (native, gvisor)");
  if (c.runsc_platform != "ptrace" && c.runsc_platform != "systrap" && c.runsc_platform != "kvm")
    return Bad("/runscPlatform", "unknown value \"" + c.runsc_platform + "\"");
  if (c.node_workers < 1) return Bad("/nodeWorkers", "must be at least 1");
  if (c.simulate && c.gvisor == "on")
    return Bad("/simulate", "a simulated node runs no real sandboxes: drop gvisor \"on\"");
  if (c.controller_workers < 1) return Bad("/controllerWorkers", "must be at least 1");
  if (c.max_volume_bytes < 1) return Bad("/maxVolumeBytes", "must be at least 1");
  if (c.node_name.empty()) return Bad("/nodeName", "required");
  if (c.pod_network != "bridge" && c.pod_network != "none")
    return Bad("/podNetwork", "unknown value \"" + c.pod_network + "\" (bridge, none)");
  if (c.pod_egress != "managed" && c.pod_egress != "deny-all")
    return Bad("/podEgress", "unknown value \"" + c.pod_egress + "\" (managed, deny-all)");
  if (c.pod_netns_pool < 0 || c.pod_netns_pool > 256)
    return Bad("/podNetnsPool", "must be between 0 and 256");
  for (const auto& [key, list, may_be_empty] :
       {std::tuple{"/podDNSNameservers", &c.pod_dns_nameservers, false},
        std::tuple{"/podDNSResolver", &c.pod_dns_resolver, true}}) {
    if (list->empty() && may_be_empty) continue;
    for (const std::string& a : Split(*list, ',')) {
      if (!net::ParseIpv4(a)) {
        return Bad(key, "\"" + *list + "\" must be a comma list of IPv4 addresses");
      }
    }
  }
  if (auto cidr = net::ParseCidr(c.pod_cidr); !cidr) {
    return Bad("/podCIDR", cidr.error().message);
  } else if (cidr->prefix > 30) {
    return Bad("/podCIDR", "\"" + c.pod_cidr + "\" has no room for pods (use /30 or wider)");
  }
  // The host end of each veth is "asbv" + 8 hex digits; the bridge name must differ from those.
  if (c.pod_bridge.empty() || c.pod_bridge.size() > 15 || c.pod_bridge.rfind("asbv", 0) == 0 ||
      c.pod_bridge.find_first_of("/ \t\n:") != std::string::npos)
    return Bad("/podBridge", "\"" + c.pod_bridge +
                                 "\" is not a usable interface name (1-15 characters, no '/', "
                                 "space or ':', not starting with asbv)");
  if (c.pod_nft_table.empty() || c.pod_nft_table.size() > 32 ||
      c.pod_nft_table.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") !=
          std::string::npos)
    return Bad("/podNftTable",
               "\"" + c.pod_nft_table + "\" is not a usable table name (1-32 of a-z, 0-9, _)");
  if (c.cgroup_parent.size() < 2 || c.cgroup_parent[0] != '/' ||
      c.cgroup_parent.find("..") != std::string::npos || c.cgroup_parent.back() == '/')
    return Bad("/cgroupParent",
               "\"" + c.cgroup_parent + "\" is not a cgroup path such as /asb (absolute, no ..)");
  return {};
}

Json ConfigToJson(const DaemonConfig& c) {
  Json aliases = Json::array();
  for (const auto& a : c.image_aliases)
    aliases.push_back({{"pattern", a.pattern}, {"image", a.image}});
  return {{"stateDir", c.state_dir},
          {"apiListen", c.api_listen},
          {"routerListen", c.router_listen},
          {"maxRequestBytes", c.max_request_bytes},
          {"nodeName", c.node_name},
          {"defaultRuntimeClass", c.default_runtime_class},
          {"nodeWorkers", c.node_workers},
          {"enableNative", c.enable_native},
          {"gvisor", c.gvisor},
          {"runscPath", c.runsc_path},
          {"runscPlatform", c.runsc_platform},
          {"imageAliases", aliases},
          {"defaultRegistry", c.default_registry},
          {"insecureRegistries", c.insecure_registries},
          {"registryMirrors", c.registry_mirrors},
          {"images", {{"diskBudget", c.image_disk_budget_bytes}}},
          {"controllerWorkers", c.controller_workers},
          {"podNetwork", c.pod_network},
          {"podCIDR", c.pod_cidr},
          {"podBridge", c.pod_bridge},
          {"podNftTable", c.pod_nft_table},
          {"cgroupParent", c.cgroup_parent},
          {"podEgress", c.pod_egress},
          {"podNetnsPool", c.pod_netns_pool},
          {"podDNSNameservers", c.pod_dns_nameservers},
          {"podDNSResolver", c.pod_dns_resolver},
          {"maxVolumeBytes", c.max_volume_bytes},
          {"simulate", c.simulate},
          {"hostLimits", c.host_limits},
          {"refillAfterClaimMillis", c.refill_after_claim_ms}};
}

}  // namespace asb::asbd
