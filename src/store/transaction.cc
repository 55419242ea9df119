// ObjectStore::Transact: several writes staged in one batch under the writer lock, each checked
// as the single-object method would check it (against the store plus the batch so far), then
// made durable by one ObjectLog::Commit and published in order (object_store.cc CommitLocked).
#include <optional>

#include "store/object_meta.h"
#include "store/object_store.h"

namespace asb::store {

// The Txn handed to Transact's fn: the *Locked methods, with the batch open. Remembers the first
// failed write so the batch can't commit without it even if fn carries on.
class ObjectStore::BatchTxn final : public Txn {
 public:
  explicit BatchTxn(ObjectStore& store) : store_(store) {}

  Result<Object> Get(const api::ResourceInfo& res, const std::string& ns,
                     const std::string& name) override {
    ObjPtr obj = store_.FindForWrite({res.GroupResource(), res.namespaced ? ns : "", name});
    if (!obj) return MakeError(Code::kNotFound, internal::NotFoundMessage(res, name));
    return *obj;
  }
  Result<Shared> CreateShared(const api::ResourceInfo& res, Object obj,
                              const CreateOptions& options) override {
    return Note(store_.CreateLocked(res, std::move(obj), options));
  }
  Result<Shared> UpdateShared(const api::ResourceInfo& res, Object obj,
                              const UpdateOptions& options) override {
    return Note(store_.UpdateLocked(res, std::move(obj), options));
  }
  Result<Shared> DeleteShared(const api::ResourceInfo& res, const std::string& ns,
                              const std::string& name, const DeleteOptions& options) override {
    // Orphaning rewrites every dependent, which the batch's view of dependents can't list.
    if (options.propagation == Propagation::kOrphan)
      return Note(MakeError(Code::kInvalidArgument,
                            "orphan propagation is not available in a multi-object write"));
    return Note(store_.DeleteLocked(res, ns, name, options));
  }

  const std::optional<Error>& failed() const { return failed_; }

 private:
  Result<Shared> Note(Result<Shared> r) {
    if (!r && !failed_) failed_ = r.error();
    return r;
  }

  ObjectStore& store_;
  std::optional<Error> failed_;
};

Status ObjectStore::Transact(const std::function<Status(Txn&)>& fn) {
  ASB_RETURN_IF_ERROR(CheckNotInTxn());
  std::lock_guard w(writer_mu_);
  Batch batch;
  BatchTxn txn(*this);
  batch_ = &batch;
  txn_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  // Closes the batch however fn leaves (an exception included), before anything commits.
  struct Close {
    ObjectStore& s;
    ~Close() {
      s.txn_thread_.store(std::thread::id(), std::memory_order_relaxed);
      s.batch_ = nullptr;
    }
  };
  Status result = OkStatus();
  {
    Close close{*this};
    result = fn(txn);
  }
  if (txn.failed()) return tl::unexpected(*txn.failed());
  if (!result) return result;
  return CommitLocked(batch);
}

}  // namespace asb::store
