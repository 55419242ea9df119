// Kubernetes' name and label syntax rules with Kubernetes' exact messages
// (k8s.io/apimachinery/pkg/util/validation), the one copy every component uses: object names
// (api, store), label keys and values (api, store selectors), router headers. A 422 reads as it
// would from kube-apiserver:
//   metadata.name: Invalid value: "aaa…a": must be no more than 63 characters
// Each *Errors function returns every rule the value breaks (empty = valid); each Check* the
// first of them ("" = valid), for callers that report one. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace asb {

inline constexpr size_t kDns1123LabelMaxLength = 63;
inline constexpr size_t kDns1123SubdomainMaxLength = 253;

// RFC 1123 label: <= 63 of [a-z0-9-], alphanumeric at both ends (Namespace, Sandbox, Service
// names; container names).
std::vector<std::string> Dns1123LabelErrors(std::string_view s);
// RFC 1123 subdomain: <= 253, dot-separated labels (most kinds' names, custom resources',
// label-key prefixes).
std::vector<std::string> Dns1123SubdomainErrors(std::string_view s);
// RFC 1035 label: an RFC 1123 label that starts with a letter (Service names).
std::vector<std::string> Dns1035LabelErrors(std::string_view s);
// Label and annotation keys: [DNS-subdomain prefix "/"] name, the name <= 63 of
// [A-Za-z0-9-_.] with alphanumeric ends.
std::vector<std::string> QualifiedNameErrors(std::string_view s);
// Label values: empty, or <= 63 of [A-Za-z0-9-_.] with alphanumeric ends.
std::vector<std::string> LabelValueErrors(std::string_view s);

std::string CheckDns1123Label(std::string_view s);
std::string CheckDns1123Subdomain(std::string_view s);
std::string CheckQualifiedName(std::string_view s);
std::string CheckLabelValue(std::string_view s);

inline bool IsDns1123Label(std::string_view s) { return Dns1123LabelErrors(s).empty(); }
inline bool IsDns1123Subdomain(std::string_view s) { return Dns1123SubdomainErrors(s).empty(); }
inline bool IsQualifiedName(std::string_view s) { return QualifiedNameErrors(s).empty(); }
inline bool IsLabelValue(std::string_view s) { return LabelValueErrors(s).empty(); }

}  // namespace asb
