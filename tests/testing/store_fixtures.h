// Object builders for tests that write unstructured Kubernetes objects into a store::Store.
#pragma once

#include <string>

#include "base/json_util.h"

namespace asb::testing {

// {"metadata":{"name","namespace"?,"labels"?},"spec":spec}. ns "" leaves namespace out
// (cluster-scoped kinds).
inline Json MakeObj(const std::string& ns, const std::string& name, Json labels = nullptr,
                    Json spec = Json::object()) {
  Json obj = {{"metadata", {{"name", name}}}, {"spec", std::move(spec)}};
  if (!ns.empty()) obj["metadata"]["namespace"] = ns;
  if (!labels.is_null()) obj["metadata"]["labels"] = std::move(labels);
  return obj;
}

// A controller ownerReference to `owner` (a stored object: apiVersion, kind, name, uid set).
inline Json OwnerRef(const Json& owner) {
  return {{"apiVersion", owner["apiVersion"]},
          {"kind", owner["kind"]},
          {"name", owner["metadata"]["name"]},
          {"uid", owner["metadata"]["uid"]},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

}  // namespace asb::testing
