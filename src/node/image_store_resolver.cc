#include "node/image_store_resolver.h"

namespace asb::node {

Result<ResolvedImage> ImageStoreResolver::Resolve(const std::string& image_ref) {
  ASB_ASSIGN_OR_RETURN(image::ResolvedImage img, store_.Resolve(image_ref));
  ResolvedImage out;
  out.rootfs = std::move(img.rootfs);
  out.entrypoint = std::move(img.entrypoint);
  out.cmd = std::move(img.cmd);
  out.env = std::move(img.env);
  out.working_dir = std::move(img.working_dir);
  out.image_id = std::move(img.image_id);
  return out;
}

}  // namespace asb::node
