// A SandboxTemplate's spec.networkPolicy checked at the API edge with the node's own parser
// (net/network_policy.h), so a policy the node could not enforce is refused with a 422 naming
// the field instead of being stored and then failing closed (deny-all) on the node.
#pragma once

#include "api/field_error.h"
#include "base/json_util.h"

namespace asb::api {

// Appends at most one error (the parser stops at the first) for `policy`, the value of
// spec.networkPolicy (null/absent: nothing to check).
void ValidateNetworkPolicy(const Json& policy, FieldErrors* out);

}  // namespace asb::api
