#include "store/selector.h"

#include <algorithm>
#include <cctype>

#include "base/strings.h"

namespace asb::store {
namespace {

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? up to 63 chars (Kubernetes "qualified name" part).
bool IsQualifiedNamePart(std::string_view s, std::string* why) {
  if (s.empty()) {
    if (why) *why = "name part must be non-empty";
    return false;
  }
  if (s.size() > 63) {
    if (why) *why = "name part must be no more than 63 characters";
    return false;
  }
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) {
    if (why) *why = "name part must start and end with an alphanumeric character";
    return false;
  }
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') {
      if (why)
        *why = std::string(
                   "name part must consist of alphanumeric characters, '-', '_' or '.' (found '") +
               c + "')";
      return false;
    }
  }
  return true;
}

bool IsDnsSubdomain(std::string_view s, std::string* why) {
  if (s.empty() || s.size() > 253) {
    if (why) *why = "prefix must be a non-empty DNS subdomain of at most 253 characters";
    return false;
  }
  for (const std::string& label : Split(s, '.')) {
    bool ok =
        !label.empty() && label.size() <= 63 && IsAlnum(label.front()) && IsAlnum(label.back());
    for (char c : label) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    }
    if (!ok) {
      if (why) *why = "prefix must be a lowercase DNS subdomain (e.g. example.com)";
      return false;
    }
  }
  return true;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// --- label selector lexer (mirrors k8s.io/apimachinery/pkg/labels/selector.go) ---

enum class Tok {
  kEnd,
  kIdent,
  kComma,
  kOpenParen,
  kCloseParen,
  kEquals,
  kDoubleEquals,
  kNotEquals,
  kBang,
  kIn,
  kNotIn,
  kGreater,
  kLess,
};

struct Token {
  Tok type = Tok::kEnd;
  std::string text;
};

bool IsSpecial(char c) {
  return c == '!' || c == '=' || c == ',' || c == '(' || c == ')' || c == '<' || c == '>';
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::vector<Token> Lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (IsSpecial(c)) {
      if (c == '=' && i + 1 < s.size() && s[i + 1] == '=') {
        out.push_back({Tok::kDoubleEquals, "=="});
        i += 2;
      } else if (c == '!' && i + 1 < s.size() && s[i + 1] == '=') {
        out.push_back({Tok::kNotEquals, "!="});
        i += 2;
      } else {
        Tok t = c == '!'   ? Tok::kBang
                : c == '=' ? Tok::kEquals
                : c == ',' ? Tok::kComma
                : c == '(' ? Tok::kOpenParen
                : c == ')' ? Tok::kCloseParen
                : c == '>' ? Tok::kGreater
                           : Tok::kLess;
        out.push_back({t, std::string(1, c)});
        ++i;
      }
      continue;
    }
    size_t start = i;
    while (i < s.size() && !IsSpace(s[i]) && !IsSpecial(s[i])) ++i;
    std::string word(s.substr(start, i - start));
    Tok t = word == "in" ? Tok::kIn : word == "notin" ? Tok::kNotIn : Tok::kIdent;
    out.push_back({t, std::move(word)});
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

std::string Describe(const Token& t) {
  return t.type == Tok::kEnd ? "end of input" : Quote(t.text);
}

class LabelParser {
 public:
  explicit LabelParser(std::string_view text) : text_(text), toks_(Lex(text)) {}

  Result<LabelSelector> Parse() {
    std::vector<LabelRequirement> reqs;
    if (Peek().type == Tok::kEnd) return LabelSelector();
    while (true) {
      ASB_ASSIGN_OR_RETURN(LabelRequirement r, ParseRequirement());
      reqs.push_back(std::move(r));
      const Token& t = Next();
      if (t.type == Tok::kEnd) break;
      if (t.type != Tok::kComma) return Fail("expected ',' or end of input, found " + Describe(t));
      if (Peek().type == Tok::kEnd) return Fail("trailing ','");
    }
    return LabelSelector(std::move(reqs));
  }

 private:
  const Token& Peek() const { return toks_[pos_]; }
  const Token& Next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  tl::unexpected<Error> Fail(const std::string& why) const {
    return MakeError(Code::kInvalidArgument, "invalid label selector " + Quote(text_) + ": " + why);
  }

  Result<std::string> ParseKey() {
    const Token& t = Next();
    if (t.type != Tok::kIdent) return Fail("expected a label key, found " + Describe(t));
    std::string why;
    if (!IsValidLabelKey(t.text, &why))
      return Fail("invalid label key " + Quote(t.text) + ": " + why);
    return t.text;
  }

  Result<std::string> ParseValue(bool allow_empty_before) {
    const Token& t = Peek();
    // `a=` (empty value) is valid: the value is "".
    if (allow_empty_before && (t.type == Tok::kComma || t.type == Tok::kEnd)) return std::string();
    if (t.type != Tok::kIdent && t.type != Tok::kIn && t.type != Tok::kNotIn)
      return Fail("expected a label value, found " + Describe(t));
    Next();
    std::string why;
    if (!IsValidLabelValue(t.text, &why))
      return Fail("invalid label value " + Quote(t.text) + ": " + why);
    return t.text;
  }

  Result<LabelRequirement> ParseRequirement() {
    LabelRequirement r;
    if (Peek().type == Tok::kBang) {
      Next();
      ASB_ASSIGN_OR_RETURN(r.key, ParseKey());
      r.op = LabelRequirement::Op::kDoesNotExist;
      return r;
    }
    ASB_ASSIGN_OR_RETURN(r.key, ParseKey());
    const Token& op = Peek();
    switch (op.type) {
      case Tok::kEnd:
      case Tok::kComma:
        r.op = LabelRequirement::Op::kExists;
        return r;
      case Tok::kEquals:
      case Tok::kDoubleEquals:
      case Tok::kNotEquals: {
        Next();
        r.op = op.type == Tok::kNotEquals ? LabelRequirement::Op::kNotEquals
                                          : LabelRequirement::Op::kEquals;
        ASB_ASSIGN_OR_RETURN(std::string v, ParseValue(true));
        r.values.push_back(std::move(v));
        return r;
      }
      case Tok::kGreater:
      case Tok::kLess: {
        bool gt = op.type == Tok::kGreater;
        Next();
        r.op = gt ? LabelRequirement::Op::kGreaterThan : LabelRequirement::Op::kLessThan;
        ASB_ASSIGN_OR_RETURN(std::string v, ParseValue(false));
        if (!ParseInt(v))
          return Fail("for '>' and '<' the value must be an integer, found " + Quote(v));
        r.values.push_back(std::move(v));
        return r;
      }
      case Tok::kIn:
      case Tok::kNotIn: {
        bool in = op.type == Tok::kIn;
        Next();
        r.op = in ? LabelRequirement::Op::kIn : LabelRequirement::Op::kNotIn;
        const Token& open = Next();
        if (open.type != Tok::kOpenParen)
          return Fail(std::string("expected '(' after '") + (in ? "in" : "notin") + "', found " +
                      Describe(open));
        while (true) {
          if (Peek().type == Tok::kCloseParen && r.values.empty())
            return Fail(std::string("values for '") + (in ? "in" : "notin") +
                        "' must be non-empty");
          // `a in (x,)` allows an empty value after a comma, as Kubernetes does.
          ASB_ASSIGN_OR_RETURN(std::string v, ParseValueInSet());
          r.values.push_back(std::move(v));
          const Token& t = Next();
          if (t.type == Tok::kCloseParen) break;
          if (t.type != Tok::kComma)
            return Fail("expected ',' or ')' in value set, found " + Describe(t));
        }
        std::sort(r.values.begin(), r.values.end());
        r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
        return r;
      }
      default:
        return Fail("expected an operator (=, ==, !=, in, notin, >, <) after " + Quote(r.key) +
                    ", found " + Describe(op));
    }
  }

  Result<std::string> ParseValueInSet() {
    const Token& t = Peek();
    if (t.type == Tok::kComma || t.type == Tok::kCloseParen) return std::string();
    return ParseValue(false);
  }

  std::string_view text_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
};

const Json* LabelValue(const Json& labels, const std::string& key) {
  if (!labels.is_object()) return nullptr;
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return nullptr;
  return &*it;
}

}  // namespace

bool IsValidLabelKey(std::string_view key, std::string* why) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return IsQualifiedNamePart(key, why);
  if (!IsDnsSubdomain(key.substr(0, slash), why)) return false;
  return IsQualifiedNamePart(key.substr(slash + 1), why);
}

bool IsValidLabelValue(std::string_view value, std::string* why) {
  if (value.empty()) return true;
  return IsQualifiedNamePart(value, why);
}

bool LabelRequirement::Matches(const Json& labels) const {
  const Json* v = LabelValue(labels, key);
  switch (op) {
    case Op::kExists:
      return v != nullptr;
    case Op::kDoesNotExist:
      return v == nullptr;
    case Op::kEquals:
    case Op::kIn:
      return v != nullptr && std::find(values.begin(), values.end(),
                                       v->get_ref<const std::string&>()) != values.end();
    case Op::kNotEquals:
    case Op::kNotIn:
      return v == nullptr || std::find(values.begin(), values.end(),
                                       v->get_ref<const std::string&>()) == values.end();
    case Op::kGreaterThan:
    case Op::kLessThan: {
      if (v == nullptr || values.empty()) return false;
      auto have = ParseInt(v->get_ref<const std::string&>());
      auto want = ParseInt(values[0]);
      if (!have || !want) return false;
      return op == Op::kGreaterThan ? *have > *want : *have < *want;
    }
  }
  return false;
}

bool LabelSelector::Matches(const Json& labels) const {
  for (const auto& r : reqs_)
    if (!r.Matches(labels)) return false;
  return true;
}

bool LabelSelector::MatchesObject(const Json& obj) const {
  if (reqs_.empty()) return true;
  static const Json kNull;
  const Json* labels = Find(obj, "metadata.labels");
  return Matches(labels ? *labels : kNull);
}

std::string LabelSelector::ToString() const {
  std::vector<std::string> parts;
  for (const auto& r : reqs_) {
    using Op = LabelRequirement::Op;
    std::string v = r.values.empty() ? "" : r.values[0];
    switch (r.op) {
      case Op::kExists:
        parts.push_back(r.key);
        break;
      case Op::kDoesNotExist:
        parts.push_back("!" + r.key);
        break;
      case Op::kEquals:
        parts.push_back(r.key + "=" + v);
        break;
      case Op::kNotEquals:
        parts.push_back(r.key + "!=" + v);
        break;
      case Op::kGreaterThan:
        parts.push_back(r.key + ">" + v);
        break;
      case Op::kLessThan:
        parts.push_back(r.key + "<" + v);
        break;
      case Op::kIn:
        parts.push_back(r.key + " in (" + Join(r.values, ",") + ")");
        break;
      case Op::kNotIn:
        parts.push_back(r.key + " notin (" + Join(r.values, ",") + ")");
        break;
    }
  }
  return Join(parts, ",");
}

Result<LabelSelector> ParseLabelSelector(std::string_view text) {
  return LabelParser(text).Parse();
}

Result<LabelSelector> LabelSelectorFromJson(const Json& selector) {
  auto fail = [](const std::string& why) {
    return MakeError(Code::kInvalidArgument, "invalid label selector: " + why);
  };
  std::vector<LabelRequirement> reqs;
  if (selector.is_null()) return LabelSelector();
  if (!selector.is_object()) return fail("must be an object");
  if (auto it = selector.find("matchLabels"); it != selector.end() && !it->is_null()) {
    if (!it->is_object()) return fail("matchLabels must be an object");
    for (auto& [k, v] : it->items()) {
      std::string why;
      if (!IsValidLabelKey(k, &why)) return fail("matchLabels key " + Quote(k) + ": " + why);
      if (!v.is_string()) return fail("matchLabels value of " + Quote(k) + " must be a string");
      const std::string& s = v.get_ref<const std::string&>();
      if (!IsValidLabelValue(s, &why)) return fail("matchLabels value " + Quote(s) + ": " + why);
      reqs.push_back({k, LabelRequirement::Op::kEquals, {s}});
    }
  }
  if (auto it = selector.find("matchExpressions"); it != selector.end() && !it->is_null()) {
    if (!it->is_array()) return fail("matchExpressions must be a list");
    for (const Json& e : *it) {
      if (!e.is_object()) return fail("matchExpressions entries must be objects");
      std::string key = GetString(e, "key");
      std::string op = GetString(e, "operator");
      std::string why;
      if (!IsValidLabelKey(key, &why))
        return fail("matchExpressions key " + Quote(key) + ": " + why);
      LabelRequirement r{key, LabelRequirement::Op::kExists, {}};
      if (auto vs = e.find("values"); vs != e.end() && !vs->is_null()) {
        if (!vs->is_array()) return fail("matchExpressions values must be a list");
        for (const Json& v : *vs) {
          if (!v.is_string()) return fail("matchExpressions values must be strings");
          if (!IsValidLabelValue(v.get_ref<const std::string&>(), &why))
            return fail("matchExpressions value " + Quote(v.get<std::string>()) + ": " + why);
          r.values.push_back(v.get<std::string>());
        }
      }
      if (op == "In" || op == "NotIn") {
        r.op = op == "In" ? LabelRequirement::Op::kIn : LabelRequirement::Op::kNotIn;
        if (r.values.empty()) return fail("values must be non-empty for operator " + op);
      } else if (op == "Exists" || op == "DoesNotExist") {
        r.op = op == "Exists" ? LabelRequirement::Op::kExists : LabelRequirement::Op::kDoesNotExist;
        if (!r.values.empty()) return fail("values must be empty for operator " + op);
      } else {
        return fail("unknown operator " + Quote(op) + " (want In, NotIn, Exists, DoesNotExist)");
      }
      reqs.push_back(std::move(r));
    }
  }
  return LabelSelector(std::move(reqs));
}

bool FieldSelector::Matches(const Json& obj) const {
  for (const auto& r : reqs_) {
    std::string have = GetString(obj, r.field);
    if ((have == r.value) != r.equals) return false;
  }
  return true;
}

namespace {

// The event fields Kubernetes selects on (kubectl describe asks for involvedObject.*). Each is
// the object's own path, so Matches reads it directly.
bool IsEventField(std::string_view field) {
  for (std::string_view f :
       {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "type", "reportingComponent"})
    if (field == f) return true;
  return false;
}

}  // namespace

Result<FieldSelector> ParseFieldSelector(const api::ResourceInfo& res, std::string_view text) {
  std::vector<FieldRequirement> reqs;
  if (Trim(text).empty()) return FieldSelector();
  bool is_pod = res.group.empty() && res.plural == "pods";
  bool is_event = res.group.empty() && res.plural == "events";
  // Split on unescaped commas, then each term on its first unescaped operator.
  std::vector<std::string> terms;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      cur += c;
      cur += text[++i];
    } else if (c == ',') {
      terms.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  terms.push_back(cur);
  for (const std::string& term : terms) {
    auto fail = [&](const std::string& why) {
      return MakeError(Code::kInvalidArgument,
                       "invalid field selector " + Quote(text) + ": " + why);
    };
    if (Trim(term).empty()) return fail("empty term");
    size_t op_pos = std::string::npos;
    size_t op_len = 0;
    bool equals = true;
    for (size_t i = 0; i < term.size(); ++i) {
      if (term[i] == '\\') {
        ++i;
        continue;
      }
      if (term[i] == '!' && i + 1 < term.size() && term[i + 1] == '=') {
        op_pos = i, op_len = 2, equals = false;
        break;
      }
      if (term[i] == '=') {
        op_pos = i;
        op_len = (i + 1 < term.size() && term[i + 1] == '=') ? 2 : 1;
        break;
      }
    }
    if (op_pos == std::string::npos)
      return fail(Quote(term) + " is not of the form field=value or field!=value");
    std::string field(Trim(std::string_view(term).substr(0, op_pos)));
    std::string raw_value = term.substr(op_pos + op_len);
    std::string value;
    for (size_t i = 0; i < raw_value.size(); ++i) {
      if (raw_value[i] == '\\' && i + 1 < raw_value.size()) ++i;
      value += raw_value[i];
    }
    bool supported = field == "metadata.name" || field == "metadata.namespace" ||
                     (is_pod && (field == "spec.nodeName" || field == "status.phase")) ||
                     (is_event && IsEventField(field));
    if (!supported) return MakeError(Code::kInvalidArgument, "field label not supported: " + field);
    reqs.push_back({std::move(field), equals, std::move(value)});
  }
  return FieldSelector(std::move(reqs));
}

}  // namespace asb::store
