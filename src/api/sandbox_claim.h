// SandboxClaim fields read by more than one component (the claim controller, kubectl's table,
// the benches), so the rule is written once.
#pragma once

#include <string>

#include "base/json_util.h"

namespace asb::api {

// The Sandbox a claim is bound to: status.sandbox.name, else status.sandbox.Name (upstream's
// v1alpha1 field, which the claim controller writes too); "" when unbound.
inline std::string BoundSandboxName(const Json& claim) {
  std::string name = GetString(claim, "status.sandbox.name");
  return name.empty() ? GetString(claim, "status.sandbox.Name") : name;
}

}  // namespace asb::api
