// Serving certificates for the conversion webhook, as upstream's controller (v0.5) makes them: a
// self-signed CA (P-256, CN agent-sandbox-conversion-webhook-ca) and a serving certificate it
// signs for the webhook Service's DNS names. kube-apiserver trusts the CA through the CRDs'
// spec.conversion.webhook.clientConfig.caBundle.
//
// Upstream keeps the three PEMs in the Secret agent-sandbox-webhook-certs so replicas share one
// CA; here they live in a directory (ca.crt, tls.crt, tls.key, the Secret's keys), which is what
// a mounted copy of that Secret looks like, so either works: `asbd conversion-webhook
// --self-signed DIR` makes them on first start and reuses them after.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace asb::webhook {

struct WebhookCerts {
  std::string ca_pem;    // ca.crt: the caBundle
  std::string cert_pem;  // tls.crt: the serving certificate
  std::string key_pem;   // tls.key: its private key
};

// The DNS names a Service is reached by: name, name.ns, name.ns.svc, name.ns.svc.<domain>.
std::vector<std::string> ServiceDnsNames(const std::string& service, const std::string& ns,
                                         const std::string& cluster_domain);

// A new CA and a serving certificate for `hosts` (IP addresses become IP SANs, other names DNS
// SANs; the first is the subject CN), both valid for a year. kInvalidArgument without hosts,
// kInternal on OpenSSL failure.
[[nodiscard]] Result<WebhookCerts> GenerateWebhookCerts(const std::vector<std::string>& hosts);

// Reads DIR/{ca.crt,tls.crt,tls.key} when all three exist and the certificate chains to the CA
// and matches the key; otherwise (none exist) generates them for `hosts` and writes them (the key
// 0600, each file atomically). kInvalidArgument when some exist but are unusable: a broken
// Secret is reported, never silently replaced (the caBundle in the CRDs names its CA).
[[nodiscard]] Result<WebhookCerts> LoadOrCreateWebhookCerts(const std::string& dir,
                                                            const std::vector<std::string>& hosts);

// kInvalidArgument unless cert_pem is a certificate signed by ca_pem (when given) whose public
// key matches key_pem.
[[nodiscard]] Status CheckWebhookCerts(const WebhookCerts& certs);

}  // namespace asb::webhook
