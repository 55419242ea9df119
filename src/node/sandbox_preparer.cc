#include "node/sandbox_preparer.h"

#include "api/secret.h"

namespace asb::node {

std::vector<std::string> SandboxPreparer::DockerConfigs(const PodPlan& plan, std::string* skipped) {
  std::vector<std::string> configs;
  for (const auto& name : plan.image_pull_secrets) {
    auto secret = secrets_.Get(api::SecretResource(), plan.ns, name);
    std::string why;
    if (!secret) {
      why = secret.error().code == Code::kNotFound ? "not found" : secret.error().message;
    } else if (auto doc = api::DockerConfigOf(*secret); !doc) {
      why = doc.error().message;
    } else if (!*doc) {
      why = "is not of type " + std::string(api::kSecretTypeDockerConfigJson);
    } else {
      configs.push_back(std::move(**doc));
      continue;
    }
    *skipped += (skipped->empty() ? "" : "; ") + ("imagePullSecrets \"" + name + "\" " + why);
  }
  return configs;
}

tl::expected<PreparedSandbox, PrepareFailure> SandboxPreparer::Prepare(const PodPlan& plan) {
  std::string skipped;
  auto image = images_.ResolveFor({.image = plan.container.image,
                                   .pull_policy = plan.container.image_pull_policy,
                                   .docker_configs = DockerConfigs(plan, &skipped)});
  if (!image) {
    std::string message =
        "pulling image \"" + plan.container.image + "\": " + image.error().message;
    if (!skipped.empty()) message += " (" + skipped + ")";
    return tl::unexpected(PrepareFailure{PrepareFailure::Kind::kPull, std::move(message)});
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
