// Helpers shared by the API server's translation units (not part of the public API).
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "api/resource.h"
#include "apiserver/api_server.h"
#include "base/json_util.h"
#include "base/result.h"
#include "http/message.h"

namespace asb::apiserver::internal {

// A parsed resource URL.
struct Target {
  const api::ResourceInfo* res = nullptr;
  std::string ns;    // "" = cluster-scoped kind, or all namespaces
  std::string name;  // "" = the collection
  std::string sub;   // "", "status" or "scale"
};

// The media type of a Content-Type/Accept value, lower-cased, without parameters.
std::string MediaType(const std::string& header_value);
// True when the Accept header asks for a meta.k8s.io Table.
bool WantsTable(const http::Request& req);
// Go's strconv.ParseBool on a query parameter: false when absent, kInvalidArgument when malformed.
Result<bool> QueryBool(const http::Request& req, const char* name);

// {"kind":"Table",...} for `items` of `res`. `column_definitions` false gives [] (watch events
// after the first).
Json MakeTable(const api::ResourceInfo& res, const std::vector<Json>& items,
               const std::string& resource_version, SystemTime now, bool column_definitions,
               const std::string& include_object);

// Everything a resource handler needs for one request.
struct Ctx {
  store::Store& store;
  const ApiServerOptions& options;
  Clock& clock;
  const std::atomic<bool>& shutting_down;
  http::Request& req;
  Target target;
  // dryRun=All in the query, or in a DELETE's DeleteOptions body: nothing is written.
  bool dry_run = false;
};

// Every verb on a resource URL (rest.cc).
http::Response ServeResource(Ctx& ctx);

// GET collection with watch=true: a chunked stream of {"type":..,"object":..} lines (watch.cc).
http::Response ServeWatch(Ctx& ctx);

}  // namespace asb::apiserver::internal
