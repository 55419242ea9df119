#include "store/store_util.h"

namespace asb::store {

Result<Object> UpdateWithRetry(Store& store, const api::ResourceInfo& res, const std::string& ns,
                               const std::string& name,
                               const std::function<Status(Object&)>& mutate, UpdateOptions options,
                               int max_attempts) {
  Error last{Code::kAborted, "update conflict"};
  for (int attempt = 0; attempt < std::max(1, max_attempts); ++attempt) {
    ASB_ASSIGN_OR_RETURN(Object current, store.Get(res, ns, name));
    Object next = current;
    Status st = mutate(next);
    if (!st) {
      if (st.error().code == Code::kOk) return current;  // NoChange()
      return tl::unexpected(st.error());
    }
    auto updated = store.Update(res, std::move(next), options);
    if (updated) return updated;
    if (updated.error().code != Code::kAborted) return updated;
    last = updated.error();
  }
  return tl::unexpected(last);
}

Result<std::optional<Object>> GetOptional(Store& store, const api::ResourceInfo& res,
                                          const std::string& ns, const std::string& name) {
  auto got = store.Get(res, ns, name);
  if (got) return std::optional<Object>(std::move(*got));
  if (got.error().code == Code::kNotFound) return std::optional<Object>();
  return tl::unexpected(got.error());
}

}  // namespace asb::store
