#include "base/k8s_names.h"

namespace asb {

namespace {

constexpr size_t kQualifiedNameMaxLength = 63;
constexpr size_t kLabelValueMaxLength = 63;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// Kubernetes' RegexError: "<msg> (e.g. 'x',  or 'y', regex used for validation is '<re>')".
// The double space is Kubernetes' own.
std::string RegexError(std::string_view msg, std::string_view re,
                       std::initializer_list<std::string_view> examples) {
  std::string out = std::string(msg) + " (e.g. ";
  bool first = true;
  for (std::string_view e : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'" + std::string(e) + "', ";
  }
  return out + "regex used for validation is '" + std::string(re) + "')";
}

std::string MaxLenError(size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesLabel(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s)
    if (!IsLowerAlnum(c) && c != '-') return false;
  return true;
}

// Labels joined by '.'.
bool MatchesSubdomain(std::string_view s) {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!MatchesLabel(s.substr(start, dot == std::string_view::npos ? s.npos : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedPart(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s)
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

constexpr std::string_view kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character";
constexpr std::string_view kLabelRe = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kSubdomainRe =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kDns1035Msg =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character";
constexpr std::string_view kDns1035Re = "[a-z]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kQualifiedMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kQualifiedRe = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kLabelValueRe = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

}  // namespace

std::vector<std::string> Dns1123LabelErrors(std::string_view s) {
  std::vector<std::string> out;
  if (s.size() > kDns1123LabelMaxLength) out.push_back(MaxLenError(kDns1123LabelMaxLength));
  if (!MatchesLabel(s)) {
    // A valid subdomain that is not a label can only be one with dots (length was checked).
    if (MatchesSubdomain(s))
      out.push_back("must not contain dots");
    else
      out.push_back(RegexError(kLabelMsg, kLabelRe, {"my-name", "123-abc"}));
  }
  return out;
}

std::vector<std::string> Dns1123SubdomainErrors(std::string_view s) {
  std::vector<std::string> out;
  if (s.size() > kDns1123SubdomainMaxLength) out.push_back(MaxLenError(kDns1123SubdomainMaxLength));
  if (!MatchesSubdomain(s)) out.push_back(RegexError(kSubdomainMsg, kSubdomainRe, {"example.com"}));
  return out;
}

std::vector<std::string> Dns1035LabelErrors(std::string_view s) {
  std::vector<std::string> out;
  if (s.size() > kDns1123LabelMaxLength) out.push_back(MaxLenError(kDns1123LabelMaxLength));
  if (!MatchesLabel(s) || !(s.front() >= 'a' && s.front() <= 'z'))
    out.push_back(RegexError(kDns1035Msg, kDns1035Re, {"my-name", "abc-123"}));
  return out;
}

std::vector<std::string> QualifiedNameErrors(std::string_view s) {
  std::vector<std::string> out;
  std::string_view name = s;
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    if (s.find('/', slash + 1) != std::string_view::npos) {
      out.push_back("a qualified name " +
                    RegexError(kQualifiedMsg, kQualifiedRe, {"MyName", "my.name", "123-abc"}) +
                    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      return out;
    }
    std::string_view prefix = s.substr(0, slash);
    name = s.substr(slash + 1);
    if (prefix.empty()) {
      out.push_back("prefix part must be non-empty");
    } else {
      for (const std::string& msg : Dns1123SubdomainErrors(prefix))
        out.push_back("prefix part " + msg);
    }
  }
  if (name.empty()) {
    out.push_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMaxLength) {
    out.push_back("name part " + MaxLenError(kQualifiedNameMaxLength));
  }
  if (!MatchesQualifiedPart(name))
    out.push_back("name part " +
                  RegexError(kQualifiedMsg, kQualifiedRe, {"MyName", "my.name", "123-abc"}));
  return out;
}

std::vector<std::string> LabelValueErrors(std::string_view s) {
  std::vector<std::string> out;
  if (s.size() > kLabelValueMaxLength) out.push_back(MaxLenError(kLabelValueMaxLength));
  if (!s.empty() && !MatchesQualifiedPart(s))
    out.push_back(RegexError(kLabelValueMsg, kLabelValueRe, {"MyValue", "my_value", "12345"}));
  return out;
}

namespace {
std::string First(std::vector<std::string> errors) {
  return errors.empty() ? std::string() : std::move(errors.front());
}
}  // namespace

std::string CheckDns1123Label(std::string_view s) { return First(Dns1123LabelErrors(s)); }
std::string CheckDns1123Subdomain(std::string_view s) { return First(Dns1123SubdomainErrors(s)); }
std::string CheckQualifiedName(std::string_view s) { return First(QualifiedNameErrors(s)); }
std::string CheckLabelValue(std::string_view s) { return First(LabelValueErrors(s)); }

}  // namespace asb
