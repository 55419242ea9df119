// asbd's image API, what `asbctl image` talks to (docs/images.md). It lives in asbd because
// asbd owns the image cache (one process writes it, so pulls, imports and removals never race)
// and knows which images pods use (its store); node-local access through the state dir would
// need a cross-process lock and a second copy of that knowledge.
//
//   GET    /asb/v1/images                      the cached images (ImageList)
//   POST   /asb/v1/images/pull                 {"image", "namespace", "pullSecrets": [names]}
//   DELETE /asb/v1/images/<name or digest>     409 when a pod uses it
//   POST   /asb/v1/images/prune                every image no pod uses
//   POST   /asb/v1/images/uploads              a new upload {"id"}
//   PUT    /asb/v1/images/uploads/<id>?offset=N   appends the body (chunks fit the request limit)
//   POST   /asb/v1/images/uploads/<id>/import?name=REF   imports the uploaded archive, ends it
//   DELETE /asb/v1/images/uploads/<id>         abandons it
// Same bearer token as the Kubernetes API; errors are Kubernetes Status objects. An image is in
// use while a pod that is not finished names it (spec image resolved through the cache's refs,
// or status imageID). Uploads live in the cache's tmp/ (gone at restart), each at most
// kMaxUploadBytes, and one idle for an hour is dropped when the next starts.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "http/message.h"
#include "image/image_store.h"
#include "store/store.h"

namespace asb::asbd {

inline constexpr std::string_view kImageApiPrefix = "/asb/v1/images";
inline constexpr int64_t kMaxUploadBytes = int64_t{64} << 30;

class ImageApi {
 public:
  ImageApi(store::Store& store, image::ImageStore& images, std::string token);

  // Handles a request whose path starts with kImageApiPrefix.
  http::Response Handle(http::Request& req);

  // Manifest digests of the images pods use (the disk budget's and removal's guard).
  std::set<std::string> InUse();

  // At start-up, before the node starts pods: a cache left over its images.diskBudget (a
  // smaller budget in the config, or images added while asbd was not enforcing one) has its
  // least recently used images no pod in the store uses removed, and the log says what went.
  // A failure is logged, never fatal: the cache still works, only over its budget.
  void CollectGarbageAtStart();

 private:
  http::Response List();
  http::Response Pull(const http::Request& req);
  http::Response Remove(const std::string& name);
  http::Response Prune();
  http::Response NewUpload();
  http::Response Append(const std::string& id, const http::Request& req);
  http::Response ImportUpload(const std::string& id, const http::Request& req);
  http::Response DropUpload(const std::string& id);

  store::Store& store_;
  image::ImageStore& images_;
  const std::string token_;
  std::mutex mu_;
  struct Upload {
    int64_t size = 0;
    std::chrono::steady_clock::time_point touched;
    bool busy = false;  // an append or import is running
  };
  std::map<std::string, Upload> uploads_;
};

}  // namespace asb::asbd
