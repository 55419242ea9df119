// CustomResourceDefinitions (apiextensions.k8s.io/v1) for the four agent-sandbox kinds, generated
// from the same schema tree the API server validates with and publishes as OpenAPI (api/schema.h)
// and the same printer columns `kubectl get` shows (api/table.h), so a real kube-apiserver serves
// our kinds exactly as embedded asbd does. `asbd crds` prints them; deploy/kubernetes/crds.yaml
// is that output, checked in (a test keeps the two equal).
//
// Each CRD serves v1beta1 (the storage version, as upstream v1.0) and v1alpha1 (deprecated, the
// seed's manifests), converted by the webhook of webhook/conversion_review.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/resource.h"
#include "base/json_util.h"

namespace asb::api {

struct CrdOptions {
  // Where kube-apiserver finds the conversion webhook (spec.conversion.webhook.clientConfig).
  std::string webhook_namespace = "agent-sandbox-system";
  std::string webhook_service = "agent-sandbox-webhook-service";
  std::string webhook_path = "/convert";
  int webhook_port = 443;
  // caBundle as the CRD carries it (base64 of the PEM CA kube-apiserver trusts for the webhook);
  // empty leaves it out (the controller or a cert manager patches it in at deploy time).
  std::string ca_bundle_base64;
};

// The CRD of `kind` (Sandbox, SandboxTemplate, SandboxClaim or SandboxWarmPool).
// kNotFound for any other kind.
[[nodiscard]] Result<Json> CustomResourceDefinitionFor(std::string_view kind,
                                                       const CrdOptions& options = {});
// All four, in AllResources() order.
std::vector<Json> AgentSandboxCrds(const CrdOptions& options = {});

// The structural openAPIV3Schema of one served version of a kind: the kind's schema with the
// root metadata reduced to {type: object} (kube-apiserver owns ObjectMeta) and without the
// strategic-merge-patch extensions CRD schemas cannot carry.
Json CrdVersionSchema(const ResourceInfo& res);

// The additionalPrinterColumns of a kind: TableColumns(res) minus Name (always shown), each with
// the JSONPath that computes the cell TableCells(res) computes. Empty for kinds whose only
// columns are Name and Age (kube-apiserver then shows Age itself).
Json CrdPrinterColumns(const ResourceInfo& res);

}  // namespace asb::api
