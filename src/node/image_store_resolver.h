// ImageStoreResolver: the node's ImageResolver over the local image::ImageStore (built-in
// python-runtime, aliases, local directory images). A thin field-for-field adapter.
#pragma once

#include "image/image_store.h"
#include "node/image_resolver.h"

namespace asb::node {

class ImageStoreResolver final : public ImageResolver {
 public:
  // `store` must outlive this. Thread-safe (ImageStore is).
  explicit ImageStoreResolver(image::ImageStore& store) : store_(store) {}
  Result<ResolvedImage> Resolve(const std::string& image_ref) override;

 private:
  image::ImageStore& store_;
};

}  // namespace asb::node
