// store::Store over the Kubernetes REST API: what the controllers need from a kube-apiserver
// (or from asbd's API server in its apiserver role), so the same ControllerManager that runs
// in-process over SqliteStore runs as `asbd controller --kubeconfig FILE`.
//
// Mapping (kube-apiserver semantics; errors from the server's Status, client::ErrorFromResponse):
//   Get      GET    .../NAME                                   404 -> kNotFound
//   List     GET    ...?labelSelector&fieldSelector&limit&continue; limit 0 reads every page
//                   (500 a page) and returns them as one list at the first page's revision;
//                   an expired continue token -> kGone
//   Create   POST   ... ; CreateOptions::keep_status (which no API create honours) is a second
//                   write to /status right after, compare-and-set on the created revision
//   Update   PUT    .../NAME or .../NAME/status (status_only); metadata.resourceVersion makes it
//                   conditional: 409 -> kAborted
//   Delete   DELETE .../NAME with DeleteOptions {propagationPolicy, preconditions}
//   Watch    List (paginated) for the initial ADDED events when asked, then
//            GET ...?watch=1&resourceVersion=N&allowWatchBookmarks=true, one JSON event a line;
//            the stream is re-opened from the last event or bookmark when the server ends it;
//            410 / an ERROR event with code 410 -> kGone, so the manager re-lists.
//   Transact kUnimplemented: an API server has no multi-object write. The controllers fall back
//            to sequences of single compare-and-set writes (claim_reconciler.cc).
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "kube/transport.h"
#include "store/store.h"

namespace asb::kube {

struct RestStoreOptions {
  int64_t list_page_size = 500;  // client-go's pager default
  // A watch connection with nothing read for this long (not even a bookmark) is re-opened.
  std::chrono::milliseconds watch_idle{std::chrono::seconds(120)};
  // Events a watcher may hold unread before it gives up with kGone (the consumer re-lists).
  size_t watch_buffer = 100000;
  std::string field_manager = "asbd-controller";
};

class RestStore : public store::Store {
 public:
  RestStore(std::unique_ptr<Transport> transport, RestStoreOptions options = {});
  ~RestStore() override;

  // "/apis/G/V/namespaces/NS/PLURAL/NAME/SUB" (parts omitted when empty).
  static std::string Path(const api::ResourceInfo& res, const std::string& ns,
                          const std::string& name = "", const std::string& sub = "");

  Result<store::Object> Get(const api::ResourceInfo& res, const std::string& ns,
                            const std::string& name) override;
  Result<store::ListResult> List(const api::ResourceInfo& res, const std::string& ns,
                                 const store::ListOptions& options) override;
  Result<store::Object> Create(const api::ResourceInfo& res, store::Object obj,
                               const store::CreateOptions& options = {}) override;
  Result<store::Object> Update(const api::ResourceInfo& res, store::Object obj,
                               const store::UpdateOptions& options = {}) override;
  Result<store::Object> Delete(const api::ResourceInfo& res, const std::string& ns,
                               const std::string& name,
                               const store::DeleteOptions& options = {}) override;
  Result<std::unique_ptr<store::Watcher>> Watch(const api::ResourceInfo& res, const std::string& ns,
                                                const store::WatchOptions& options) override;
  // The revision of a one-item namespace list (0 when the server can't be reached).
  int64_t CurrentRevision() override;

  Transport& transport() { return *transport_; }

 private:
  // A request whose 2xx body is JSON; other statuses become the Status's error.
  [[nodiscard]] Result<Json> Call(const std::string& method, const std::string& target,
                                  const std::string& body = "");
  [[nodiscard]] Result<store::ListResult> ListPage(const api::ResourceInfo& res,
                                                   const std::string& ns,
                                                   const store::ListOptions& options);

  std::unique_ptr<Transport> transport_;
  const RestStoreOptions options_;
};

// Builds a Transport from `config` and wraps it. kInvalidArgument for an unusable config.
[[nodiscard]] Result<std::unique_ptr<RestStore>> OpenRestStore(const RestConfig& config,
                                                               TransportOptions transport = {},
                                                               RestStoreOptions options = {});

}  // namespace asb::kube
