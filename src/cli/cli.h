// asbctl: a kubectl-like CLI over client::ApiClient. One file per verb (apply.cc, get.cc,
// delete.cc) and one verb table (cli.cc), crun style.
//
// Exit codes: 0 success, 1 runtime/server error (the server's Status message on stderr),
// 2 usage error.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"
#include "base/strings.h"
#include "client/api_client.h"

namespace asb::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Parsed command line: positional arguments and --flag value pairs (boolean flags map to "").
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> flags;  // canonical long name -> values
  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& fallback = "") const {
    auto it = flags.find(flag);
    return it == flags.end() || it->second.empty() ? fallback : it->second.back();
  }
};

// Shared state for a verb run.
struct Context {
  Args args;
  std::unique_ptr<client::ApiClient> client;
  std::string namespace_name;  // -n, else the kubeconfig's namespace
  FILE* out = stdout;
  FILE* err = stderr;
};

struct Verb {
  const char* name;
  const char* usage;
  int (*run)(Context& ctx);
};

// The verb table.
const std::vector<Verb>& Verbs();
// Entry point used by main(): parses argv, loads the kubeconfig, runs the verb.
int Main(int argc, char** argv);

// Verbs.
int RunApply(Context& ctx);
int RunGet(Context& ctx);
int RunDelete(Context& ctx);
int RunImage(Context& ctx);

// Helpers shared by verbs (output.cc, get.cc).
std::string ToUpperAscii(std::string s);
// "sandboxwarmpool.extensions.agents.x-k8s.io/name" like kubectl ("pod/name" for core kinds).
std::string ObjectRef(const api::ResourceInfo& res, const std::string& name);
std::string ToYaml(const Json& j);
// Prints "Error from server (<reason>): <message>" or "error: <message>"; returns kExitError.
int ReportError(Context& ctx, const Error& e);
// Reads -f FILE|- and splits YAML/JSON documents. kInvalidArgument naming the file.
Result<std::vector<Json>> ReadManifests(const std::string& path);

}  // namespace asb::cli
