#include "node/sandbox_preparer.h"

namespace asb::node {

tl::expected<PreparedSandbox, PrepareFailure> SandboxPreparer::Prepare(const PodPlan& plan) {
  auto image = images_.ResolveFor(
      {.image = plan.container.image, .pull_policy = plan.container.image_pull_policy});
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
                         image->image_id.empty() ? plan.container.image : image->image_id,
                         image->pull};
}

}  // namespace asb::node
