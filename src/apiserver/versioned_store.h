// The API server's version edge: a store::Store in front of the real one that stores the
// agent-sandbox kinds in their storage version (v1beta1) whatever version a request names, and
// hands every object back (gets, lists, write results, watch events) in the version asked for
// (api/conversion.h). The request handlers (rest.cc, watch.cc) call it exactly as the store, with
// the ResourceInfo of the URL's version, and so decode, patch and validate in that version.
// Core kinds pass straight through.
#pragma once

#include <memory>

#include "store/store.h"

namespace asb::apiserver {

class VersionedStore final : public store::Store {
 public:
  explicit VersionedStore(store::Store& inner) : inner_(inner) {}

  Result<store::Object> Get(const api::ResourceInfo& res, const std::string& ns,
                            const std::string& name) override;
  Result<store::ListResult> List(const api::ResourceInfo& res, const std::string& ns,
                                 const store::ListOptions& options) override;
  Result<store::Object> Create(const api::ResourceInfo& res, store::Object obj,
                               const store::CreateOptions& options = {}) override;
  Result<store::Object> Update(const api::ResourceInfo& res, store::Object obj,
                               const store::UpdateOptions& options) override;
  Result<store::Object> Delete(const api::ResourceInfo& res, const std::string& ns,
                               const std::string& name,
                               const store::DeleteOptions& options) override;
  Result<std::unique_ptr<store::Watcher>> Watch(const api::ResourceInfo& res, const std::string& ns,
                                                const store::WatchOptions& options) override;
  int64_t CurrentRevision() override { return inner_.CurrentRevision(); }

  // `obj` (any version) as `res` (a served version) would show it.
  store::Object ToServed(const api::ResourceInfo& res, store::Object obj);

 private:
  store::Object ToStorage(const api::ResourceInfo& storage, store::Object obj,
                          const store::Object* current);

  store::Store& inner_;
};

}  // namespace asb::apiserver
