// Small store conveniences used by every reconciler: optional reads, not-found-tolerant deletes,
// and "write status only when it changed".
#pragma once

#include <optional>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace asb::controller {

// Get that maps kNotFound to nullopt.
[[nodiscard]] Result<std::optional<store::Object>> GetIfExists(store::Store& store,
                                                               const api::ResourceInfo& res,
                                                               const std::string& ns,
                                                               const std::string& name);
// Delete with uid / resourceVersion preconditions (when non-empty); kNotFound counts as success,
// a failed precondition is kAborted.
[[nodiscard]] Status DeleteIfExists(store::Store& store, const api::ResourceInfo& res,
                                    const std::string& ns, const std::string& name,
                                    const std::string& uid = "",
                                    const std::string& resource_version = "");
// Writes `status` through the status subresource unless it equals obj.status. The write is
// unconditional (no resourceVersion): each controller is the single writer of its kind's status
// and one worker owns a key at a time. Returns whether it wrote.
[[nodiscard]] Result<bool> WriteStatusIfChanged(store::Store& store, const api::ResourceInfo& res,
                                                const store::Object& obj, const Json& status);

}  // namespace asb::controller
