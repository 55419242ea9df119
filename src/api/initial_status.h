// The status a kind starts in (Kubernetes' per-kind PrepareForCreate): a create cannot set
// status, so the store replaces it with this for every writer, not only the API server.
#pragma once

#include "api/resource.h"
#include "base/json_util.h"

namespace asb::api {

// Namespace {"phase":"Active"}, Pod {"phase":"Pending"}; null (no status) for every other kind.
Json InitialStatus(const ResourceInfo& res);

}  // namespace asb::api
