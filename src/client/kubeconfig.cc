#include "client/kubeconfig.h"

#include <unistd.h>

#include <cstdlib>

#include "base/file_util.h"
#include "base/strings.h"
#include "base/yaml.h"

namespace asb::client {

namespace {

const Json* Named(const Json& doc, const char* list, const std::string& name, const char* inner) {
  const Json* items = Find(doc, list);
  if (!items || !items->is_array()) return nullptr;
  for (const auto& it : *items)
    if (GetString(it, "name") == name && it.contains(inner)) return &it[inner];
  return nullptr;
}

}  // namespace

Json KubeconfigJson(const Kubeconfig& kc) {
  Json cluster = {{"server", kc.server}};
  if (!kc.ca_data.empty()) cluster["certificate-authority-data"] = kc.ca_data;
  if (!kc.router_server.empty())
    cluster["extensions"] = {
        {{"name", "asb.dev/router"}, {"extension", {{"server", kc.router_server}}}}};
  return {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", {{{"name", "asb"}, {"cluster", cluster}}}},
      {"users", {{{"name", "asb"}, {"user", {{"token", kc.token}}}}}},
      {"contexts",
       {{{"name", "asb"},
         {"context", {{"cluster", "asb"}, {"user", "asb"}, {"namespace", kc.namespace_name}}}}}},
      {"current-context", "asb"},
      {"preferences", Json::object()}};
}

Status WriteKubeconfig(const std::string& path, const Kubeconfig& kc) {
  return AtomicWriteFile(path, DumpJson(KubeconfigJson(kc), 2) + "\n", 0600);
}

Result<Kubeconfig> ParseKubeconfig(std::string_view text) {
  ASB_ASSIGN_OR_RETURN(Json doc, ParseYaml(text));
  if (!doc.is_object()) return MakeError(Code::kInvalidArgument, "kubeconfig is not a mapping");
  std::string ctx_name = GetString(doc, "current-context");
  const Json* ctx = ctx_name.empty() ? nullptr : Named(doc, "contexts", ctx_name, "context");
  if (!ctx) {
    // No current context: take the first context, or the first cluster and user.
    const Json* contexts = Find(doc, "contexts");
    if (contexts && contexts->is_array() && !contexts->empty())
      ctx = Find((*contexts)[0], "context");
  }
  std::string cluster_name = ctx ? GetString(*ctx, "cluster") : "";
  std::string user_name = ctx ? GetString(*ctx, "user") : "";
  const Json* cluster = Named(doc, "clusters", cluster_name, "cluster");
  if (!cluster) {
    const Json* clusters = Find(doc, "clusters");
    if (clusters && clusters->is_array() && !clusters->empty())
      cluster = Find((*clusters)[0], "cluster");
  }
  if (!cluster || GetString(*cluster, "server").empty())
    return MakeError(Code::kInvalidArgument, "kubeconfig names no cluster server");
  Kubeconfig kc;
  kc.server = GetString(*cluster, "server");
  kc.ca_data = GetString(*cluster, "certificate-authority-data");
  if (const Json* exts = Find(*cluster, "extensions"); exts && exts->is_array())
    for (const auto& e : *exts)
      if (GetString(e, "name") == "asb.dev/router")
        kc.router_server = GetString(e, "extension.server");
  const Json* user = Named(doc, "users", user_name, "user");
  if (!user) {
    const Json* users = Find(doc, "users");
    if (users && users->is_array() && !users->empty()) user = Find((*users)[0], "user");
  }
  if (user) kc.token = GetString(*user, "token");
  if (ctx) kc.namespace_name = GetString(*ctx, "namespace", "default");
  if (kc.namespace_name.empty()) kc.namespace_name = "default";
  return kc;
}

Result<Kubeconfig> LoadKubeconfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) {
    Error e = text.error();
    e.message = "cannot read kubeconfig " + path + ": " + e.message;
    return tl::unexpected(e);
  }
  auto kc = ParseKubeconfig(*text);
  if (!kc) return tl::unexpected(kc.error().Wrap("kubeconfig " + path));
  return kc;
}

Result<HostPort> ParseHostPort(const std::string& text) {
  HostPort hp;
  std::string port;
  if (StartsWith(text, "[")) {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return MakeError(Code::kInvalidArgument, "bad address \"" + text + "\": want [v6]:port");
    hp.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos)
      return MakeError(Code::kInvalidArgument, "bad address \"" + text + "\": want host:port");
    hp.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto n = ParseInt(port);
  if (hp.host.empty() || !n || *n < 0 || *n > 65535)
    return MakeError(Code::kInvalidArgument, "bad address \"" + text + "\": want host:port");
  hp.port = static_cast<uint16_t>(*n);
  return hp;
}

Result<HostPort> ParseHttpUrl(const std::string& url) {
  size_t skip = StartsWith(url, "http://") ? 7 : StartsWith(url, "https://") ? 8 : 0;
  if (skip == 0)
    return MakeError(Code::kInvalidArgument,
                     "unsupported server URL \"" + url + "\": want http:// or https://");
  std::string rest = url.substr(skip);
  rest = rest.substr(0, rest.find('/'));
  return ParseHostPort(rest);
}

std::string DefaultStateDir() {
  if (const char* env = std::getenv("ASB_STATE_DIR"); env && *env) return env;
  if (::geteuid() == 0) return "/var/lib/asb";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/state/asb";
}

std::string DefaultKubeconfigPath() {
  if (const char* env = std::getenv("ASB_KUBECONFIG"); env && *env) return env;
  return DefaultStateDir() + "/kubeconfig";
}

}  // namespace asb::client
