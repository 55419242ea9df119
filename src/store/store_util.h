// Conveniences over the Store interface for controllers and the node agent.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "store/store.h"

namespace asb::store {

// Returned by an UpdateWithRetry mutate function to say "nothing to change": UpdateWithRetry then
// returns the current object without writing.
inline tl::unexpected<Error> NoChange() { return MakeError(Code::kOk, "no change"); }

// Read-modify-write with optimistic concurrency: Get, mutate, Update (CAS on the read
// resourceVersion); on kAborted (someone else wrote in between) it re-reads and retries, up to
// `max_attempts` times. `mutate` may return NoChange() to skip the write, or any other error to
// abort (that error is returned). Errors: kNotFound, kAborted (still conflicting after
// max_attempts), or whatever mutate/Update return.
[[nodiscard]] Result<Object> UpdateWithRetry(Store& store, const api::ResourceInfo& res,
                                             const std::string& ns, const std::string& name,
                                             const std::function<Status(Object&)>& mutate,
                                             UpdateOptions options = {}, int max_attempts = 16);

// Get that maps kNotFound to nullopt.
[[nodiscard]] Result<std::optional<Object>> GetOptional(Store& store, const api::ResourceInfo& res,
                                                        const std::string& ns,
                                                        const std::string& name);

}  // namespace asb::store
