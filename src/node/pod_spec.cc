#include "node/pod_spec.h"

#include <map>
#include <set>

#include "api/quantity.h"
#include "base/strings.h"

namespace asb::node {
namespace {

using Fail = tl::unexpected<PodFailure>;

Fail Invalid(const std::string& field, const std::string& why) {
  return Fail(PodFailure{kReasonInvalidPodSpec, field + ": " + why});
}
Fail Unsupported(const std::string& field, const std::string& why) {
  return Fail(PodFailure{kReasonUnsupportedPodSpec,
                         field + ": " + why + " (not supported by the asb node)"});
}

// Optional string field: nullopt when absent/null, error when not a string.
tl::expected<std::optional<std::string>, PodFailure> OptString(const Json& obj, const char* key,
                                                               const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Invalid(path + "." + key, "must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

tl::expected<std::optional<int64_t>, PodFailure> OptInt(const Json& obj, const char* key,
                                                        const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return Invalid(path + "." + key, "must be an integer");
  return std::optional<int64_t>(it->get<int64_t>());
}

tl::expected<std::vector<std::string>, PodFailure> StringList(const Json& obj, const char* key,
                                                              const std::string& path) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return Invalid(path + "." + key, "must be a list of strings");
  for (const Json& v : *it) {
    if (!v.is_string()) return Invalid(path + "." + key, "must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

#define ASB_NODE_TRY(lhs, expr)                                                              \
  auto ASB_CONCAT_(t_, __LINE__) = (expr);                                                   \
  if (!ASB_CONCAT_(t_, __LINE__)) return Fail(std::move(ASB_CONCAT_(t_, __LINE__).error())); \
  lhs = std::move(*ASB_CONCAT_(t_, __LINE__))

tl::expected<uint16_t, PodFailure> ProbePort(const Json& port, const ContainerPlan& c,
                                             const std::string& path) {
  if (port.is_number_integer()) {
    int64_t v = port.get<int64_t>();
    if (v < 1 || v > 65535) return Invalid(path, "port must be between 1 and 65535");
    return static_cast<uint16_t>(v);
  }
  if (port.is_string()) {
    std::string name = port.get<std::string>();
    if (auto n = ParseInt(name); n && *n >= 1 && *n <= 65535) return static_cast<uint16_t>(*n);
    for (const ContainerPort& p : c.ports) {
      if (p.name == name) return p.port;
    }
    return Invalid(path, "no container port named \"" + name + "\"");
  }
  return Invalid(path, "must be a port number or a port name");
}

tl::expected<ProbeSpec, PodFailure> ParseProbe(const Json& j, const ContainerPlan& c,
                                               const std::string& path) {
  if (!j.is_object()) return Invalid(path, "must be an object");
  ProbeSpec p;
  int handlers = 0;
  if (auto it = j.find("httpGet"); it != j.end() && !it->is_null()) {
    ++handlers;
    const std::string hp = path + ".httpGet";
    if (!it->is_object()) return Invalid(hp, "must be an object");
    p.kind = ProbeSpec::Kind::kHttpGet;
    ASB_NODE_TRY(std::optional<std::string> scheme, OptString(*it, "scheme", hp));
    if (scheme && *scheme != "HTTP") return Unsupported(hp + ".scheme", "only HTTP");
    ASB_NODE_TRY(std::optional<std::string> host, OptString(*it, "host", hp));
    if (host && !host->empty() && *host != "127.0.0.1" && *host != "localhost") {
      return Unsupported(hp + ".host", "probes always target the sandbox itself");
    }
    ASB_NODE_TRY(std::optional<std::string> ppath, OptString(*it, "path", hp));
    p.path = ppath.value_or("/");
    if (p.path.empty() || p.path[0] != '/') p.path = "/" + p.path;
    auto port = it->find("port");
    if (port == it->end()) return Invalid(hp + ".port", "required");
    ASB_NODE_TRY(p.port, ProbePort(*port, c, hp + ".port"));
    if (auto h = it->find("httpHeaders"); h != it->end() && !h->is_null()) {
      if (!h->is_array()) return Invalid(hp + ".httpHeaders", "must be a list");
      for (const Json& kv : *h) {
        if (!kv.is_object() || !kv.contains("name") || !kv["name"].is_string() ||
            !kv.value("value", Json("")).is_string()) {
          return Invalid(hp + ".httpHeaders", "entries need a string name and value");
        }
        p.http_headers.emplace_back(kv["name"].get<std::string>(),
                                    kv.value("value", std::string()));
      }
    }
  }
  if (auto it = j.find("tcpSocket"); it != j.end() && !it->is_null()) {
    ++handlers;
    const std::string tp = path + ".tcpSocket";
    if (!it->is_object()) return Invalid(tp, "must be an object");
    p.kind = ProbeSpec::Kind::kTcpSocket;
    auto port = it->find("port");
    if (port == it->end()) return Invalid(tp + ".port", "required");
    ASB_NODE_TRY(p.port, ProbePort(*port, c, tp + ".port"));
  }
  if (auto it = j.find("exec"); it != j.end() && !it->is_null()) {
    ++handlers;
    const std::string ep = path + ".exec";
    if (!it->is_object()) return Invalid(ep, "must be an object");
    p.kind = ProbeSpec::Kind::kExec;
    ASB_NODE_TRY(p.command, StringList(*it, "command", ep));
    if (p.command.empty()) return Invalid(ep + ".command", "required");
  }
  if (j.contains("grpc")) return Unsupported(path + ".grpc", "grpc probes");
  if (handlers != 1) return Invalid(path, "must have exactly one of httpGet, tcpSocket, exec");

  auto num = [&](const char* key, int64_t min, int64_t def) -> tl::expected<int64_t, PodFailure> {
    ASB_NODE_TRY(std::optional<int64_t> v, OptInt(j, key, path));
    if (!v) return def;
    if (*v < min) return Invalid(path + "." + key, "must be at least " + std::to_string(min));
    return *v;
  };
  ASB_NODE_TRY(int64_t initial, num("initialDelaySeconds", 0, 0));
  ASB_NODE_TRY(int64_t period, num("periodSeconds", 1, 10));
  ASB_NODE_TRY(int64_t timeout, num("timeoutSeconds", 1, 1));
  ASB_NODE_TRY(int64_t success, num("successThreshold", 1, 1));
  ASB_NODE_TRY(int64_t failure, num("failureThreshold", 1, 3));
  p.initial_delay = std::chrono::seconds(initial);
  p.period = std::chrono::seconds(period);
  p.timeout = std::chrono::seconds(timeout);
  p.success_threshold = static_cast<int>(std::min<int64_t>(success, 1 << 20));
  p.failure_threshold = static_cast<int>(std::min<int64_t>(failure, 1 << 20));
  return p;
}

// requests/limits: see pod_spec.h (cpu: the limit is a quota, the request a share; memory,
// ephemeral-storage: limit or request).
tl::expected<runtime::Limits, PodFailure> ParseResources(const Json& c, const std::string& path) {
  runtime::Limits out;
  auto res = c.find("resources");
  if (res == c.end() || res->is_null()) return out;
  if (!res->is_object()) return Invalid(path + ".resources", "must be an object");
  auto pick = [&](const char* name, bool milli,
                  bool request_caps) -> tl::expected<int64_t, PodFailure> {
    for (const char* section : {"limits", "requests"}) {
      if (!request_caps && std::string_view(section) == "requests") continue;
      auto s = res->find(section);
      if (s == res->end() || s->is_null()) continue;
      const std::string fp = path + ".resources." + section;
      if (!s->is_object()) return Invalid(fp, "must be a map");
      auto q = s->find(name);
      if (q == s->end() || q->is_null()) continue;
      std::string text;
      if (q->is_string()) {
        text = q->get<std::string>();
      } else if (q->is_number()) {
        text = q->dump();
      } else {
        return Invalid(fp + "." + name, "must be a quantity");
      }
      auto v = milli ? api::ParseQuantityMilli(text) : api::ParseQuantityValue(text);
      if (!v) return Invalid(fp + "." + name, v.error().message);
      return *v;
    }
    return 0;
  };
  auto pick_request = [&](const char* name) -> tl::expected<int64_t, PodFailure> {
    auto s = res->find("requests");
    if (s == res->end() || !s->is_object()) return 0;
    auto q = s->find(name);
    if (q == s->end() || q->is_null()) return 0;
    const std::string fp = path + ".resources.requests." + name;
    if (!q->is_string() && !q->is_number()) return Invalid(fp, "must be a quantity");
    auto v = api::ParseQuantityMilli(q->is_string() ? q->get<std::string>() : q->dump());
    if (!v) return Invalid(fp, v.error().message);
    return *v;
  };
  ASB_NODE_TRY(out.cpu_millis, pick("cpu", true, /*request_caps=*/false));
  // requests.cpu is a share, never a cap; like Kubernetes, it defaults to the limit.
  ASB_NODE_TRY(out.cpu_request_millis, pick_request("cpu"));
  if (out.cpu_request_millis == 0) out.cpu_request_millis = out.cpu_millis;
  ASB_NODE_TRY(out.memory_bytes, pick("memory", false, /*request_caps=*/true));
  ASB_NODE_TRY(out.ephemeral_storage_bytes, pick("ephemeral-storage", false, true));
  return out;
}

tl::expected<std::optional<uint32_t>, PodFailure> OptId(const Json* sc, const char* key,
                                                        const std::string& path) {
  if (sc == nullptr || !sc->is_object()) return std::optional<uint32_t>();
  ASB_NODE_TRY(std::optional<int64_t> v, OptInt(*sc, key, path));
  if (!v) return std::optional<uint32_t>();
  if (*v < 0 || *v > 0x7fffffff) return Invalid(path + "." + key, "out of range");
  return std::optional<uint32_t>(static_cast<uint32_t>(*v));
}

// Kubernetes QoS for the resources as written (requests default to limits when unset).
std::string QosClass(const Json& containers) {
  bool any = false;
  bool guaranteed = true;
  for (const Json& c : containers) {
    const Json* res = Find(c, "resources");
    for (const char* name : {"cpu", "memory"}) {
      const Json* lim = res ? Find(*res, std::string("limits.") + name) : nullptr;
      const Json* req = res ? Find(*res, std::string("requests.") + name) : nullptr;
      if (lim != nullptr || req != nullptr) any = true;
      if (lim == nullptr) {
        guaranteed = false;
      } else if (req != nullptr && *req != *lim) {
        guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

}  // namespace

tl::expected<PodPlan, PodFailure> ParsePod(const Json& pod) {
  PodPlan plan;
  plan.ns = GetString(pod, "metadata.namespace", "default");
  plan.name = GetString(pod, "metadata.name");
  plan.uid = GetString(pod, "metadata.uid");
  const Json* spec = Find(pod, "spec");
  if (spec == nullptr || !spec->is_object()) return Invalid("spec", "required");

  ASB_NODE_TRY(std::optional<std::string> rc, OptString(*spec, "runtimeClassName", "spec"));
  plan.runtime_class = rc.value_or("");
  // The kubelet skips entries without a name.
  if (const Json* secrets = Find(*spec, "imagePullSecrets"); secrets && secrets->is_array())
    for (const auto& ref : *secrets)
      if (std::string name = GetString(ref, "name"); !name.empty())
        plan.image_pull_secrets.push_back(std::move(name));

  ASB_NODE_TRY(std::optional<std::string> rp, OptString(*spec, "restartPolicy", "spec"));
  if (!rp || *rp == "Always") {
    plan.restart_policy = RestartPolicy::kAlways;
  } else if (*rp == "OnFailure") {
    plan.restart_policy = RestartPolicy::kOnFailure;
  } else if (*rp == "Never") {
    plan.restart_policy = RestartPolicy::kNever;
  } else {
    return Invalid("spec.restartPolicy", "must be Always, OnFailure or Never, not \"" + *rp + "\"");
  }
  ASB_NODE_TRY(std::optional<int64_t> grace,
               OptInt(*spec, "terminationGracePeriodSeconds", "spec"));
  if (grace) {
    if (*grace < 0) return Invalid("spec.terminationGracePeriodSeconds", "must not be negative");
    plan.termination_grace = std::chrono::seconds(*grace);
  }
  for (const char* f : {"initContainers", "ephemeralContainers"}) {
    if (const Json* v = Find(*spec, f); v != nullptr && v->is_array() && !v->empty()) {
      return Unsupported(std::string("spec.") + f, "init and ephemeral containers");
    }
  }
  for (const char* f : {"hostNetwork", "hostPID", "hostIPC"}) {
    if (const Json* v = Find(*spec, f); v != nullptr && v->is_boolean() && v->get<bool>()) {
      // Security: a sandbox never shares the host's namespaces.
      return Unsupported(std::string("spec.") + f, "sharing host namespaces");
    }
  }

  const Json* containers = Find(*spec, "containers");
  if (containers == nullptr || !containers->is_array() || containers->empty()) {
    return Invalid("spec.containers", "exactly one container is required");
  }
  if (containers->size() > 1) {
    return Fail(PodFailure{kReasonMultipleContainers,
                           "the pod has " + std::to_string(containers->size()) +
                               " containers; the asb node runs exactly one container per pod"});
  }
  plan.qos_class = QosClass(*containers);
  const Json& cj = (*containers)[0];
  const std::string cp = "spec.containers[0]";
  if (!cj.is_object()) return Invalid(cp, "must be an object");
  ContainerPlan& c = plan.container;
  ASB_NODE_TRY(std::optional<std::string> cname, OptString(cj, "name", cp));
  if (!cname || cname->empty()) return Invalid(cp + ".name", "required");
  c.name = *cname;
  ASB_NODE_TRY(std::optional<std::string> image, OptString(cj, "image", cp));
  if (!image || image->empty()) return Invalid(cp + ".image", "required");
  c.image = *image;
  ASB_NODE_TRY(std::optional<std::string> pull, OptString(cj, "imagePullPolicy", cp));
  c.image_pull_policy = pull.value_or("");
  ASB_NODE_TRY(c.command, StringList(cj, "command", cp));
  ASB_NODE_TRY(c.args, StringList(cj, "args", cp));
  ASB_NODE_TRY(std::optional<std::string> wd, OptString(cj, "workingDir", cp));
  c.working_dir = wd.value_or("");
  if (!c.working_dir.empty() && c.working_dir[0] != '/') {
    return Invalid(cp + ".workingDir", "must be an absolute path");
  }

  if (auto env = cj.find("env"); env != cj.end() && !env->is_null()) {
    if (!env->is_array()) return Invalid(cp + ".env", "must be a list");
    for (size_t i = 0; i < env->size(); ++i) {
      const Json& e = (*env)[i];
      const std::string ep = cp + ".env[" + std::to_string(i) + "]";
      if (!e.is_object()) return Invalid(ep, "must be an object");
      ASB_NODE_TRY(std::optional<std::string> name, OptString(e, "name", ep));
      if (!name || name->empty()) return Invalid(ep + ".name", "required");
      if (name->find('=') != std::string::npos || name->find('\0') != std::string::npos) {
        return Invalid(ep + ".name", "must not contain '='");
      }
      if (auto vf = e.find("valueFrom"); vf != e.end() && !vf->is_null()) {
        return Unsupported(ep + ".valueFrom", "env valueFrom; use a literal value");
      }
      ASB_NODE_TRY(std::optional<std::string> value, OptString(e, "value", ep));
      c.env.emplace_back(*name, value.value_or(""));
    }
  }
  if (auto ef = cj.find("envFrom"); ef != cj.end() && ef->is_array() && !ef->empty()) {
    return Unsupported(cp + ".envFrom", "envFrom");
  }

  if (auto ports = cj.find("ports"); ports != cj.end() && !ports->is_null()) {
    if (!ports->is_array()) return Invalid(cp + ".ports", "must be a list");
    for (size_t i = 0; i < ports->size(); ++i) {
      const Json& p = (*ports)[i];
      const std::string pp = cp + ".ports[" + std::to_string(i) + "]";
      if (!p.is_object()) return Invalid(pp, "must be an object");
      ContainerPort port;
      ASB_NODE_TRY(std::optional<int64_t> num, OptInt(p, "containerPort", pp));
      if (!num || *num < 1 || *num > 65535) {
        return Invalid(pp + ".containerPort", "must be between 1 and 65535");
      }
      port.port = static_cast<uint16_t>(*num);
      ASB_NODE_TRY(std::optional<std::string> pname, OptString(p, "name", pp));
      port.name = pname.value_or("");
      ASB_NODE_TRY(std::optional<std::string> proto, OptString(p, "protocol", pp));
      port.protocol = proto.value_or("TCP");
      c.ports.push_back(std::move(port));
    }
  }

  if (auto rp2 = cj.find("readinessProbe"); rp2 != cj.end() && !rp2->is_null()) {
    ASB_NODE_TRY(c.readiness, ParseProbe(*rp2, c, cp + ".readinessProbe"));
  }
  ASB_NODE_TRY(c.limits, ParseResources(cj, cp));

  const Json* pod_sc = Find(*spec, "securityContext");
  const Json* ctr_sc = Find(cj, "securityContext");
  ASB_NODE_TRY(std::optional<uint32_t> pu, OptId(pod_sc, "runAsUser", "spec.securityContext"));
  ASB_NODE_TRY(std::optional<uint32_t> pg, OptId(pod_sc, "runAsGroup", "spec.securityContext"));
  ASB_NODE_TRY(std::optional<uint32_t> cu, OptId(ctr_sc, "runAsUser", cp + ".securityContext"));
  ASB_NODE_TRY(std::optional<uint32_t> cg, OptId(ctr_sc, "runAsGroup", cp + ".securityContext"));
  c.run_as_user = cu ? cu : pu;
  c.run_as_group = cg ? cg : pg;
  if (ctr_sc != nullptr && ctr_sc->is_object()) {
    if (const Json* priv = Find(*ctr_sc, "privileged"); priv && priv->is_boolean() && *priv) {
      // Security: privileged would mean host-level powers; a sandbox never gets them.
      return Unsupported(cp + ".securityContext.privileged", "privileged containers");
    }
  }
  return plan;
}

Result<std::vector<std::string>> ResolveArgv(const std::vector<std::string>& command,
                                             const std::vector<std::string>& args,
                                             const std::vector<std::string>& entrypoint,
                                             const std::vector<std::string>& cmd) {
  std::vector<std::string> argv;
  if (!command.empty()) {
    argv = command;
    argv.insert(argv.end(), args.begin(), args.end());
  } else {
    argv = entrypoint;
    const std::vector<std::string>& tail = args.empty() ? cmd : args;
    argv.insert(argv.end(), tail.begin(), tail.end());
  }
  if (argv.empty()) {
    return MakeError(Code::kInvalidArgument,
                     "no command specified: the container has no command/args and the image no "
                     "entrypoint/cmd");
  }
  return argv;
}

std::vector<std::string> WithExecAgent(std::vector<std::string> argv,
                                       const image::ResolvedImage& image, const ContainerPlan& c) {
  // kubectl exec and run() reach asb-agent on its port: an OCI image's pod whose process is
  // something else gets the agent beside it (agent/supervisor.h), as a kubelet execs into any
  // container. Not when the container declares that port itself: its process serves it.
  if (image.exec_agent.empty() || argv.empty() || argv[0] == image.exec_agent) return argv;
  for (const ContainerPort& p : c.ports) {
    if (p.port == image.exec_agent_port) return argv;
  }
  std::vector<std::string> wrapped = {image.exec_agent, "--port",
                                      std::to_string(image.exec_agent_port), "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

std::string ExpandVars(std::string_view in,
                       const std::vector<std::pair<std::string, std::string>>& env) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out.push_back(in[i]);
      continue;
    }
    if (in[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (in[i + 1] == '(') {
      size_t close = in.find(')', i + 2);
      if (close != std::string_view::npos) {
        std::string_view name = in.substr(i + 2, close - i - 2);
        const std::string* value = nullptr;
        for (const auto& [k, v] : env) {
          if (k == name) value = &v;  // last definition wins, as in a map
        }
        if (value != nullptr) {
          out += *value;
        } else {
          out.append(in.substr(i, close - i + 1));
        }
        i = close;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

std::string_view RestartPolicyName(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kAlways:
      return "Always";
    case RestartPolicy::kOnFailure:
      return "OnFailure";
    case RestartPolicy::kNever:
      return "Never";
  }
  return "Always";
}

std::string SandboxIdForUid(std::string_view uid) {
  std::string id;
  for (char c : uid) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    id.push_back(ok ? c : '-');
    if (id.size() == 63) break;
  }
  return id;
}

namespace {

// The kubelet's hostname rule: the pod name, cut to 63 characters without a trailing '-' or '.'
// (pod names may be 253-character subdomains; hostnames may not).
std::string PodHostname(const std::string& pod_name) {
  std::string host = pod_name.substr(0, 63);
  while (!host.empty() && (host.back() == '-' || host.back() == '.')) host.pop_back();
  return host;
}

}  // namespace

Result<runtime::SandboxSpec> BuildSandboxSpec(const PodPlan& plan,
                                              const image::ResolvedImage& image) {
  const ContainerPlan& c = plan.container;
  runtime::SandboxSpec spec;
  spec.id = SandboxIdForUid(plan.uid);
  if (spec.id.empty()) return MakeError(Code::kInvalidArgument, "pod has no metadata.uid");
  spec.hostname = PodHostname(plan.name);
  spec.rootfs = image.rootfs;

  // Environment: the image's, overridden by the container's; container values may refer to
  // earlier variables with $(VAR), as in Kubernetes.
  std::vector<std::pair<std::string, std::string>> env;
  auto set = [&env](std::string key, std::string value) {
    for (auto& kv : env) {
      if (kv.first == key) {
        kv.second = std::move(value);
        return;
      }
    }
    env.emplace_back(std::move(key), std::move(value));
  };
  for (const std::string& kv : image.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  bool has_hostname = false;
  for (const auto& [k, v] : c.env) {
    set(k, ExpandVars(v, env));
    if (k == "HOSTNAME") has_hostname = true;
  }
  if (!has_hostname) set("HOSTNAME", spec.hostname);

  std::vector<std::string> command, args;
  for (const std::string& s : c.command) command.push_back(ExpandVars(s, env));
  for (const std::string& s : c.args) args.push_back(ExpandVars(s, env));
  ASB_ASSIGN_OR_RETURN(spec.process.argv, ResolveArgv(command, args, image.entrypoint, image.cmd));
  spec.process.argv = WithExecAgent(std::move(spec.process.argv), image, c);
  for (auto& [k, v] : env) spec.process.env.push_back(k + "=" + v);
  spec.process.cwd = !c.working_dir.empty()       ? c.working_dir
                     : !image.working_dir.empty() ? image.working_dir
                                                  : "/";
  // The image's User applies unless the pod says otherwise, as under a kubelet.
  spec.process.uid = c.run_as_user.value_or(image.uid.value_or(0));
  spec.process.gid = c.run_as_group.value_or(image.gid.value_or(0));
  spec.limits = c.limits;
  spec.labels[kLabelNamespace] = plan.ns;
  spec.labels[kLabelName] = plan.name;
  spec.labels[kLabelUid] = plan.uid;
  return spec;
}

}  // namespace asb::node
