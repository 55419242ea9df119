// Kubernetes name syntax (k8s.io/apimachinery/pkg/util/validation), the one copy every
// component uses: object names (api, store), label keys and values (api, store selectors),
// router headers. Each Check* returns "" when `s` is valid, else Kubernetes' message for the
// first problem, worded as kubectl prints it after "Invalid value: ...:". Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace asb {

// At most 63 of [a-z0-9-], starting and ending alphanumeric (Namespace, Sandbox, Service names;
// container names).
std::string CheckDns1123Label(std::string_view s);
// At most 253 characters: DNS-1123 labels joined by '.' (most object names, label-key prefixes).
std::string CheckDns1123Subdomain(std::string_view s);
// A label or annotation key: [DNS-1123 subdomain prefix '/'] name, the name at most 63 of
// [A-Za-z0-9-_.] starting and ending alphanumeric.
std::string CheckQualifiedName(std::string_view s);
// A label value: empty, or at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric.
std::string CheckLabelValue(std::string_view s);

inline bool IsDns1123Label(std::string_view s) { return CheckDns1123Label(s).empty(); }
inline bool IsDns1123Subdomain(std::string_view s) { return CheckDns1123Subdomain(s).empty(); }
inline bool IsQualifiedName(std::string_view s) { return CheckQualifiedName(s).empty(); }
inline bool IsLabelValue(std::string_view s) { return CheckLabelValue(s).empty(); }

}  // namespace asb
