#include "api/table.h"
#include "apiserver/internal.h"
#include "apiserver/k8s_status.h"
#include "base/strings.h"

namespace asb::apiserver::internal {

std::string MediaType(const std::string& header_value) {
  std::string_view v = header_value;
  v = v.substr(0, v.find(';'));
  return ToLower(Trim(v));
}

bool WantsTable(const http::Request& req) {
  auto accept = req.headers.Get("Accept");
  return accept && accept->find("as=Table") != std::string::npos;
}

Result<bool> QueryBool(const http::Request& req, const char* name) {
  auto v = req.Query(name);
  if (!v) return false;
  if (v->empty()) return true;  // "?watch" alone
  auto b = ParseBool(*v);
  if (!b)
    return MakeError(Code::kInvalidArgument, std::string("invalid boolean for query parameter ") +
                                                 name + ": \"" + *v + "\"");
  return *b;
}

Json MakeTable(const api::ResourceInfo& res, const std::vector<Json>& items,
               const std::string& resource_version, SystemTime now, bool column_definitions,
               const std::string& include_object) {
  Json cols = Json::array();
  if (column_definitions) {
    for (const auto& c : api::TableColumns(res))
      cols.push_back({{"name", c.name},
                      {"type", c.type},
                      {"format", c.format},
                      {"description", c.description},
                      {"priority", c.priority}});
  }
  Json rows = Json::array();
  for (const auto& obj : items) {
    Json row = {{"cells", api::TableCells(res, obj, now)}};
    if (include_object == "Object") {
      row["object"] = obj;
    } else if (include_object != "None") {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", obj.value("metadata", Json::object())}};
    }
    rows.push_back(std::move(row));
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", {{"resourceVersion", resource_version}}},
          {"columnDefinitions", cols},
          {"rows", rows}};
}

}  // namespace asb::apiserver::internal
