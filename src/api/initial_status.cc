#include "api/initial_status.h"

namespace asb::api {

Json InitialStatus(const ResourceInfo& res) {
  if (!res.group.empty()) return nullptr;
  if (res.plural == "namespaces") return {{"phase", "Active"}};
  if (res.plural == "pods") return {{"phase", "Pending"}};
  return nullptr;
}

}  // namespace asb::api
