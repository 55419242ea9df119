#include "node/sandbox_preparer.h"

namespace asb::node {

tl::expected<PreparedSandbox, PrepareFailure> SandboxPreparer::Prepare(const PodPlan& plan) {
  auto image = images_.Resolve(plan.container.image);
  if (!image) {
    return tl::unexpected(
        PrepareFailure{PrepareFailure::Kind::kPull,
                       "pulling image \"" + plan.container.image + "\": " + image.error().message});
  }
  auto spec = BuildSandboxSpec(plan, *image);
  if (!spec) {
    return tl::unexpected(PrepareFailure{PrepareFailure::Kind::kSpec, spec.error().message});
  }
  return PreparedSandbox{std::move(*spec),
                         image->image_id.empty() ? plan.container.image : image->image_id};
}

}  // namespace asb::node
