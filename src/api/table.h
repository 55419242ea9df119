// Printer columns per kind, shared by the API server's Table responses (kubectl get) and
// asbctl get, so both show the same NAME/READY/STATUS/AGE columns.
#pragma once

#include <string>
#include <vector>

#include "api/resource.h"
#include "base/clock.h"
#include "base/json_util.h"

namespace asb::api {

struct TableColumn {
  std::string name;    // "Ready"
  std::string type;    // "string" | "integer" | "date"
  std::string format;  // "name" for the name column
  std::string description;
  int priority = 0;  // 0 = shown by default; 1 = only with -o wide
};

const std::vector<TableColumn>& TableColumns(const ResourceInfo& res);
// One cell per TableColumns(res) entry: strings or integers.
Json TableCells(const ResourceInfo& res, const Json& obj, SystemTime now);

// Kubernetes' duration.HumanDuration: "5s", "2m30s", "3h", "4d", "2y10d".
std::string HumanDuration(std::chrono::seconds d);
// Age of an object from metadata.creationTimestamp ("<unknown>" when missing).
std::string Age(const Json& obj, SystemTime now);

}  // namespace asb::api
