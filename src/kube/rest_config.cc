#include "kube/rest_config.h"

#include <cstdlib>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "base/yaml.h"

namespace asb::kube {

namespace {

// The entry `name` of a kubeconfig list (clusters, users, contexts), or the first one when no
// entry has that name (a kubeconfig without current-context still works, as asbctl's did).
const Json* Entry(const Json& doc, const char* list, const std::string& name, const char* inner) {
  const Json* items = Find(doc, list);
  if (!items || !items->is_array() || items->empty()) return nullptr;
  for (const auto& it : *items)
    if (it.is_object() && GetString(it, "name") == name && it.contains(inner)) return &it[inner];
  if (!name.empty()) return nullptr;
  const Json& first = (*items)[0];
  return first.is_object() && first.contains(inner) ? &first[inner] : nullptr;
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

// A PEM from "<field>-data" (base64) or "<field>" (a file path).
Result<std::string> PemField(const Json& obj, const std::string& field,
                             const std::string& base_dir) {
  std::string data = GetString(obj, field + "-data");
  if (!data.empty()) {
    auto decoded = Base64Decode(data);
    if (!decoded) return MakeError(Code::kInvalidArgument, field + "-data is not valid base64");
    return *decoded;
  }
  std::string file = GetString(obj, field);
  if (file.empty()) return std::string();
  auto text = ReadFile(Resolve(base_dir, file));
  if (!text) return tl::unexpected(text.error().Wrap(field + " " + file));
  return *text;
}

Result<ExecConfig> ParseExec(const Json& exec) {
  ExecConfig out;
  out.api_version = GetString(exec, "apiVersion", out.api_version);
  if (out.api_version != "client.authentication.k8s.io/v1" &&
      out.api_version != "client.authentication.k8s.io/v1beta1")
    return MakeError(Code::kInvalidArgument,
                     "user.exec.apiVersion \"" + out.api_version + "\" is not supported");
  out.command = GetString(exec, "command");
  if (out.command.empty()) return MakeError(Code::kInvalidArgument, "user.exec.command is empty");
  if (const Json* args = Find(exec, "args"); args && args->is_array())
    for (const auto& a : *args)
      if (a.is_string()) out.args.push_back(a.get<std::string>());
  if (const Json* env = Find(exec, "env"); env && env->is_array())
    for (const auto& e : *env)
      if (e.is_object()) out.env.emplace_back(GetString(e, "name"), GetString(e, "value"));
  return out;
}

}  // namespace

std::optional<std::string> Base64Decode(std::string_view data) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(data.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : data) {
    if (c == '\n' || c == '\r' || c == ' ') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    int v = value(c);
    if (v < 0 || pad > 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (pad > 2) return std::nullopt;
  return out;
}

Status ParseServerUrl(const std::string& url, RestConfig* config) {
  std::string rest;
  if (StartsWith(url, "https://")) {
    config->scheme = "https";
    config->port = 443;
    rest = url.substr(8);
  } else if (StartsWith(url, "http://")) {
    config->scheme = "http";
    config->port = 80;
    rest = url.substr(7);
  } else {
    return MakeError(Code::kInvalidArgument,
                     "server \"" + url + "\" is not an https:// (or http://) URL");
  }
  rest = rest.substr(0, rest.find('/'));
  std::string port;
  if (StartsWith(rest, "[")) {
    size_t close = rest.find(']');
    if (close == std::string::npos)
      return MakeError(Code::kInvalidArgument, "server \"" + url + "\": unclosed [");
    config->host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':')
        return MakeError(Code::kInvalidArgument, "server \"" + url + "\": bad port");
      port = rest.substr(close + 2);
    }
  } else {
    size_t colon = rest.rfind(':');
    config->host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (config->host.empty())
    return MakeError(Code::kInvalidArgument, "server \"" + url + "\" names no host");
  if (!port.empty()) {
    auto n = ParseInt(port);
    if (!n || *n <= 0 || *n > 65535)
      return MakeError(Code::kInvalidArgument, "server \"" + url + "\": bad port");
    config->port = static_cast<uint16_t>(*n);
  }
  return OkStatus();
}

Result<RestConfig> ParseKubeconfigText(std::string_view text, const std::string& base_dir) {
  ASB_ASSIGN_OR_RETURN(Json doc, ParseYaml(text));
  if (!doc.is_object()) return MakeError(Code::kInvalidArgument, "kubeconfig is not a mapping");
  std::string ctx_name = GetString(doc, "current-context");
  const Json* ctx = Entry(doc, "contexts", ctx_name, "context");
  if (!ctx && !ctx_name.empty())
    return MakeError(Code::kInvalidArgument, "current-context \"" + ctx_name + "\" not found");
  std::string cluster_name = ctx ? GetString(*ctx, "cluster") : "";
  std::string user_name = ctx ? GetString(*ctx, "user") : "";
  const Json* cluster = Entry(doc, "clusters", cluster_name, "cluster");
  if (!cluster || GetString(*cluster, "server").empty())
    return MakeError(Code::kInvalidArgument, "kubeconfig names no cluster server");
  RestConfig rc;
  ASB_RETURN_IF_ERROR(ParseServerUrl(GetString(*cluster, "server"), &rc));
  ASB_ASSIGN_OR_RETURN(rc.ca_pem, PemField(*cluster, "certificate-authority", base_dir));
  if (const Json* skip = Find(*cluster, "insecure-skip-tls-verify"); skip && skip->is_boolean())
    rc.insecure_skip_tls_verify = skip->get<bool>();
  rc.tls_server_name = GetString(*cluster, "tls-server-name");
  if (const Json* user = Entry(doc, "users", user_name, "user")) {
    ASB_ASSIGN_OR_RETURN(rc.client_cert_pem, PemField(*user, "client-certificate", base_dir));
    ASB_ASSIGN_OR_RETURN(rc.client_key_pem, PemField(*user, "client-key", base_dir));
    if (rc.client_cert_pem.empty() != rc.client_key_pem.empty())
      return MakeError(Code::kInvalidArgument,
                       "user has a client certificate without a key, or a key without one");
    rc.token = GetString(*user, "token");
    rc.token_file = Resolve(base_dir, GetString(*user, "tokenFile"));
    if (const Json* exec = Find(*user, "exec"); exec && exec->is_object()) {
      ASB_ASSIGN_OR_RETURN(rc.exec, ParseExec(*exec));
    }
  }
  if (ctx) rc.namespace_name = GetString(*ctx, "namespace", "default");
  if (rc.namespace_name.empty()) rc.namespace_name = "default";
  return rc;
}

Result<RestConfig> LoadKubeconfigFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return tl::unexpected(text.error().Wrap("kubeconfig " + path));
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  auto rc = ParseKubeconfigText(*text, dir);
  if (!rc) return tl::unexpected(rc.error().Wrap("kubeconfig " + path));
  return rc;
}

Result<RestConfig> LoadRestConfig(const std::string& kubeconfig_path) {
  return kubeconfig_path.empty() ? InClusterConfig() : LoadKubeconfigFile(kubeconfig_path);
}

Result<RestConfig> InClusterConfig(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return MakeError(Code::kFailedPrecondition,
                     "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are "
                     "unset (give --kubeconfig)");
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  RestConfig rc;
  ASB_RETURN_IF_ERROR(ParseServerUrl("https://" + h + ":" + port, &rc));
  rc.token_file = sa_dir + "/token";
  if (!PathExists(rc.token_file))
    return MakeError(Code::kFailedPrecondition,
                     "in-cluster: no service-account token at " + rc.token_file);
  ASB_ASSIGN_OR_RETURN(rc.ca_pem, ReadFile(sa_dir + "/ca.crt"));
  if (auto ns = ReadFile(sa_dir + "/namespace"); ns && !Trim(*ns).empty())
    rc.namespace_name = std::string(Trim(*ns));
  return rc;
}

Result<std::string> BearerToken(const RestConfig& config, const std::string& override_file) {
  std::string file = !override_file.empty() ? override_file : config.token_file;
  if (file.empty()) {
    if (config.token.empty())
      return MakeError(Code::kInvalidArgument,
                       "no bearer token in the kubeconfig: pass --token-file");
    return config.token;
  }
  ASB_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  std::string token(Trim(text));
  if (token.empty()) return MakeError(Code::kInvalidArgument, file + " holds no token");
  return token;
}

}  // namespace asb::kube
