#include "base/k8s_names.h"

#include <algorithm>

namespace asb {
namespace {

constexpr std::string_view kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
constexpr std::string_view kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr std::string_view kQualifiedNameMsg =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr std::string_view kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

std::string TooLong(size_t max) {
  return "must be no more than " + std::to_string(max) + " characters";
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])? (no length limit: the callers apply theirs).
bool MatchesLabelRegex(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedRegex(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

}  // namespace

std::string CheckDns1123Label(std::string_view s) {
  if (s.size() > 63) return TooLong(63);
  if (!MatchesLabelRegex(s)) return std::string(kLabelMsg);
  return "";
}

std::string CheckDns1123Subdomain(std::string_view s) {
  if (s.size() > 253) return TooLong(253);
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!MatchesLabelRegex(s.substr(start, dot == s.npos ? s.npos : dot - start)))
      return std::string(kSubdomainMsg);
    if (dot == s.npos) return "";
    start = dot + 1;
  }
}

std::string CheckQualifiedName(std::string_view s) {
  std::string_view name = s;
  size_t slash = s.find('/');
  if (slash != s.npos) {
    std::string_view prefix = s.substr(0, slash);
    name = s.substr(slash + 1);
    if (name.find('/') != name.npos)
      return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
             "start and end with an alphanumeric character with an optional DNS subdomain prefix "
             "and '/' (e.g. 'example.com/MyName')";
    if (prefix.empty()) return "prefix part must be non-empty";
    if (std::string why = CheckDns1123Subdomain(prefix); !why.empty()) return "prefix part " + why;
  }
  if (name.empty()) return "name part must be non-empty";
  if (name.size() > 63) return "name part " + TooLong(63);
  if (!MatchesQualifiedRegex(name)) return std::string(kQualifiedNameMsg);
  return "";
}

std::string CheckLabelValue(std::string_view s) {
  if (s.empty()) return "";
  if (s.size() > 63) return TooLong(63);
  if (!MatchesQualifiedRegex(s)) return std::string(kLabelValueMsg);
  return "";
}

}  // namespace asb
