// Core v1 Event objects for what the controllers did (kubectl describe / get events show them).
// Best effort: a failed write is logged, never fails a reconcile. Each event carries a
// (non-controller) ownerReference to its object, so it is garbage-collected with it. Thread-safe.
#pragma once

#include <string_view>

#include "base/clock.h"
#include "store/store.h"

namespace asb::controller {

// Records a Normal/Warning event about `obj` (of kind `res`) in the object's namespace.
void RecordEvent(store::Store& store, Clock& clock, const api::ResourceInfo& res, const Json& obj,
                 std::string_view type, std::string_view reason, std::string_view message);

}  // namespace asb::controller
