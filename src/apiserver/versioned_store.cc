#include "apiserver/versioned_store.h"

#include "api/conversion.h"
#include "api/validation.h"

namespace asb::apiserver {

namespace {

bool Converts(const api::ResourceInfo& res) { return api::IsAgentsKind(res); }

// Converts each event's object; bookmarks carry only a resourceVersion.
class ConvertingWatcher final : public store::Watcher {
 public:
  ConvertingWatcher(std::unique_ptr<store::Watcher> inner, VersionedStore& vs,
                    const api::ResourceInfo& res)
      : inner_(std::move(inner)), vs_(vs), res_(res) {}
  Result<std::optional<store::WatchEvent>> Next(std::chrono::milliseconds timeout) override {
    auto ev = inner_->Next(timeout);
    if (ev && *ev && (*ev)->type != store::EventType::kBookmark)
      (*ev)->object = vs_.ToServed(res_, std::move((*ev)->object));
    return ev;
  }
  void Stop() override { inner_->Stop(); }

 private:
  std::unique_ptr<store::Watcher> inner_;
  VersionedStore& vs_;
  const api::ResourceInfo& res_;
};

}  // namespace

store::Object VersionedStore::ToServed(const api::ResourceInfo& res, store::Object obj) {
  api::ConvertContext ctx;
  ctx.pool_template = [this](const std::string& ns, const std::string& pool) {
    auto got = inner_.Get(api::SandboxWarmPoolResource(), ns, pool);
    return got ? GetString(*got, "spec.sandboxTemplateRef.name") : std::string();
  };
  return api::ConvertToVersion(std::move(obj), res.version, ctx);
}

store::Object VersionedStore::ToStorage(const api::ResourceInfo& storage, store::Object obj,
                                        const store::Object* current) {
  api::ConvertContext ctx;
  ctx.current = current;
  std::string from(api::VersionOf(obj));
  obj = api::ConvertToVersion(std::move(obj), storage.version, ctx);
  // Defaults of the storage version for fields the request's version doesn't have.
  if (from != storage.version) api::ApplyDefaults(storage, obj);
  return obj;
}

Result<store::Object> VersionedStore::Get(const api::ResourceInfo& res, const std::string& ns,
                                          const std::string& name) {
  if (!Converts(res)) return inner_.Get(res, ns, name);
  ASB_ASSIGN_OR_RETURN(store::Object obj, inner_.Get(api::StorageResource(res), ns, name));
  return ToServed(res, std::move(obj));
}

Result<store::ListResult> VersionedStore::List(const api::ResourceInfo& res, const std::string& ns,
                                               const store::ListOptions& options) {
  if (!Converts(res)) return inner_.List(res, ns, options);
  ASB_ASSIGN_OR_RETURN(store::ListResult listed,
                       inner_.List(api::StorageResource(res), ns, options));
  for (store::Object& item : listed.items) item = ToServed(res, std::move(item));
  return listed;
}

Result<store::Object> VersionedStore::Create(const api::ResourceInfo& res, store::Object obj,
                                             const store::CreateOptions& options) {
  if (!Converts(res)) return inner_.Create(res, std::move(obj), options);
  const api::ResourceInfo& storage = api::StorageResource(res);
  ASB_ASSIGN_OR_RETURN(
      store::Object created,
      inner_.Create(storage, ToStorage(storage, std::move(obj), nullptr), options));
  return ToServed(res, std::move(created));
}

Result<store::Object> VersionedStore::Update(const api::ResourceInfo& res, store::Object obj,
                                             const store::UpdateOptions& options) {
  if (!Converts(res)) return inner_.Update(res, std::move(obj), options);
  const api::ResourceInfo& storage = api::StorageResource(res);
  std::optional<store::Object> current;
  if (res.version != storage.version) {
    // Fields only the storage version has survive a write that never saw them.
    auto got =
        inner_.Get(storage, GetString(obj, "metadata.namespace"), GetString(obj, "metadata.name"));
    if (got) current = std::move(*got);
  }
  ASB_ASSIGN_OR_RETURN(
      store::Object updated,
      inner_.Update(storage, ToStorage(storage, std::move(obj), current ? &*current : nullptr),
                    options));
  return ToServed(res, std::move(updated));
}

Result<store::Object> VersionedStore::Delete(const api::ResourceInfo& res, const std::string& ns,
                                             const std::string& name,
                                             const store::DeleteOptions& options) {
  if (!Converts(res)) return inner_.Delete(res, ns, name, options);
  ASB_ASSIGN_OR_RETURN(store::Object deleted,
                       inner_.Delete(api::StorageResource(res), ns, name, options));
  return ToServed(res, std::move(deleted));
}

Result<std::unique_ptr<store::Watcher>> VersionedStore::Watch(const api::ResourceInfo& res,
                                                              const std::string& ns,
                                                              const store::WatchOptions& options) {
  if (!Converts(res)) return inner_.Watch(res, ns, options);
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<store::Watcher> w,
                       inner_.Watch(api::StorageResource(res), ns, options));
  return std::unique_ptr<store::Watcher>(
      std::make_unique<ConvertingWatcher>(std::move(w), *this, res));
}

}  // namespace asb::apiserver
