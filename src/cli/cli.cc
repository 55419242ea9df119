#include "cli/cli.h"

#include <cstdio>

#include "client/kubeconfig.h"

namespace asb::cli {

namespace {

bool StartsWithDash(const std::string& s) { return !s.empty() && s[0] == '-'; }

// Flags that take a value, with their short aliases.
const std::map<std::string, std::string> kValueFlags = {
    {"-n", "namespace"},
    {"--namespace", "namespace"},
    {"-o", "output"},
    {"--output", "output"},
    {"-f", "filename"},
    {"--filename", "filename"},
    {"--kubeconfig", "kubeconfig"},
    {"-l", "selector"},
    {"--selector", "selector"},
    {"--name", "name"},
    {"--pull-secret", "pull-secret"},
    {"--node", "node"},
};
const std::map<std::string, std::string> kBoolFlags = {
    {"-A", "all-namespaces"},
    {"--all-namespaces", "all-namespaces"},
    {"-h", "help"},
    {"--help", "help"},
};

Result<Args> Parse(int argc, char** argv, int start) {
  Args a;
  for (int i = start; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); StartsWithDash(arg) && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (auto it = kValueFlags.find(arg); it != kValueFlags.end()) {
      if (!has_value) {
        if (i + 1 >= argc)
          return MakeError(Code::kInvalidArgument, "flag " + arg + " needs a value");
        value = argv[++i];
      }
      a.flags[it->second].push_back(value);
    } else if (auto b = kBoolFlags.find(arg); b != kBoolFlags.end()) {
      a.flags[b->second].push_back("");
    } else if (arg.size() > 1 && arg[0] == '-') {
      return MakeError(Code::kInvalidArgument, "unknown flag " + arg);
    } else {
      a.positional.push_back(arg);
    }
  }
  return a;
}

void Usage(FILE* f) {
  fprintf(f, "usage: asbctl VERB [flags]\n\nverbs:\n");
  for (const auto& v : Verbs()) fprintf(f, "  %-8s %s\n", v.name, v.usage);
  fprintf(f,
          "\nflags: --kubeconfig PATH (default $ASB_KUBECONFIG, else <state dir>/kubeconfig), "
          "-n NS, -A, -o json|yaml|wide|name, -f FILE|-, -l SELECTOR\n");
}

}  // namespace

const std::vector<Verb>& Verbs() {
  static const std::vector<Verb> kVerbs = {
      {"apply", "-f FILE|-            create or update (merge patch) every object in FILE",
       RunApply},
      {"get", "KIND [NAME] [-n NS|-A] [-o json|yaml|wide|name] [-l SEL]", RunGet},
      {"delete", "KIND NAME [-n NS] | -f FILE|-", RunDelete},
      {"image", "pull REF | import FILE|DIR [--name REF] | ls | rm NAME... | prune [--node N]",
       RunImage},
  };
  return kVerbs;
}

int Main(int argc, char** argv) {
  // Flags may come before or after the verb, as with kubectl.
  auto args = Parse(argc, argv, 1);
  if (!args) {
    fprintf(stderr, "error: %s\n", args.error().message.c_str());
    Usage(stderr);
    return kExitUsage;
  }
  if (args->positional.empty() || args->positional[0] == "help") {
    bool asked = args->Has("help") || !args->positional.empty();
    Usage(asked ? stdout : stderr);
    return asked ? kExitOk : kExitUsage;
  }
  std::string verb_name = args->positional[0];
  args->positional.erase(args->positional.begin());
  const Verb* verb = nullptr;
  for (const auto& v : Verbs())
    if (verb_name == v.name) verb = &v;
  if (!verb) {
    fprintf(stderr, "error: unknown verb \"%s\"\n", verb_name.c_str());
    Usage(stderr);
    return kExitUsage;
  }
  if (args->Has("help")) {
    printf("usage: asbctl %s %s\n", verb->name, verb->usage);
    return kExitOk;
  }
  Context ctx;
  ctx.args = std::move(*args);
  std::string path = ctx.args.Get("kubeconfig", client::DefaultKubeconfigPath());
  auto kc = client::LoadKubeconfig(path);
  if (!kc) {
    fprintf(stderr, "error: %s (is asbd running? pass --kubeconfig or set ASB_KUBECONFIG)\n",
            kc.error().message.c_str());
    return kExitError;
  }
  auto c = client::ApiClient::Create(*kc);
  if (!c) return ReportError(ctx, c.error());
  ctx.client = std::move(*c);
  ctx.namespace_name = ctx.args.Get("namespace", kc->namespace_name);
  return verb->run(ctx);
}

}  // namespace asb::cli
