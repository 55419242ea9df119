// Kubernetes label and field selectors: parsing (with the apiserver's validation rules) and
// matching against unstructured objects. Used by the store for List/Watch filtering and by
// controllers that select objects by labels.
//
// Label selector syntax (k8s.io/apimachinery/pkg/labels): comma-separated requirements, all of
// which must hold:
//   a=b  a==b  a!=b  a in (x,y)  a notin (x)  a  !a  a>5  a<5
// `a!=b` and `a notin (..)` also match objects without label a (as in Kubernetes).
//
// Field selector syntax: "f=v,g!=w" (`=`, `==`, `!=`), with backslash escapes for `,`, `=`, `\`.
// Supported fields: metadata.name and metadata.namespace for every kind, plus spec.nodeName and
// status.phase for pods, and involvedObject.{kind,namespace,name,uid,apiVersion,resourceVersion,
// fieldPath}, reason, type and reportingComponent for events.
//
// All types are immutable values after parsing and safe to share between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/resource.h"
#include "base/json_util.h"
#include "base/result.h"

namespace asb::store {

struct LabelRequirement {
  enum class Op {
    kEquals,
    kNotEquals,
    kIn,
    kNotIn,
    kExists,
    kDoesNotExist,
    kGreaterThan,
    kLessThan
  };
  std::string key;
  Op op = Op::kExists;
  std::vector<std::string> values;  // one for =, !=, >, <; one or more for in/notin

  // `labels` is metadata.labels (a JSON object of strings) or null.
  bool Matches(const Json& labels) const;
};

class LabelSelector {
 public:
  LabelSelector() = default;  // matches everything
  explicit LabelSelector(std::vector<LabelRequirement> reqs) : reqs_(std::move(reqs)) {}

  bool empty() const { return reqs_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return reqs_; }
  // `labels` is metadata.labels (object) or null/absent (no labels).
  bool Matches(const Json& labels) const;
  // Convenience: matches obj.metadata.labels.
  bool MatchesObject(const Json& obj) const;
  // Canonical text form, parseable by ParseLabelSelector.
  std::string ToString() const;

 private:
  std::vector<LabelRequirement> reqs_;
};

// Errors: kInvalidArgument naming the bad part, e.g.
//   invalid label selector "a in x": expected '(' after 'in', found "x"
[[nodiscard]] Result<LabelSelector> ParseLabelSelector(std::string_view text);

// A metav1.LabelSelector ({"matchLabels":{..},"matchExpressions":[{key,operator,values}]}).
// null or {} selects everything (as Kubernetes' LabelSelectorAsSelector does for {}).
// Errors: kInvalidArgument.
[[nodiscard]] Result<LabelSelector> LabelSelectorFromJson(const Json& selector);

// True when the key is a valid label key: optional DNS-subdomain prefix + '/' + a name of at most
// 63 chars of [A-Za-z0-9-_.] starting and ending alphanumeric. On false, *why explains.
bool IsValidLabelKey(std::string_view key, std::string* why = nullptr);
// Empty, or at most 63 chars of [A-Za-z0-9-_.] starting and ending alphanumeric.
bool IsValidLabelValue(std::string_view value, std::string* why = nullptr);

struct FieldRequirement {
  std::string field;   // "metadata.name"
  bool equals = true;  // false for !=
  std::string value;
};

class FieldSelector {
 public:
  FieldSelector() = default;  // matches everything
  explicit FieldSelector(std::vector<FieldRequirement> reqs) : reqs_(std::move(reqs)) {}

  bool empty() const { return reqs_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return reqs_; }
  // `obj` is the whole object.
  bool Matches(const Json& obj) const;

 private:
  std::vector<FieldRequirement> reqs_;
};

// Errors: kInvalidArgument: "field label not supported: spec.foo", or a syntax error naming the
// bad term.
[[nodiscard]] Result<FieldSelector> ParseFieldSelector(const api::ResourceInfo& res,
                                                       std::string_view text);

}  // namespace asb::store
