#include "api/quantity.h"

#include <string>

namespace asb::api {
namespace {

using Int = __int128;

// ~1.7e38: every intermediate below stays under this or we report overflow.
constexpr Int kLimit = static_cast<Int>(1) << 120;

struct Parsed {
  Int mantissa = 0;  // the digits with the decimal point removed
  int frac_digits = 0;
  int base = 10;  // 10 (decimal SI, exponent) or 2 (binary SI)
  int exponent = 0;
};

Result<Parsed> Parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return MakeError(Code::kInvalidArgument,
                     "invalid quantity \"" + std::string(text) + "\": " + std::string(why));
  };
  std::string_view s = text;
  if (s.empty()) return bad("empty");
  if (s.front() == '+') s.remove_prefix(1);
  if (!s.empty() && s.front() == '-') return bad("must not be negative");
  Parsed p;
  size_t i = 0;
  bool any_digit = false;
  bool seen_dot = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (seen_dot) return bad("more than one decimal point");
      seen_dot = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any_digit = true;
    // Digits beyond what fits are only allowed as trailing fractional precision we can't use;
    // reject rather than silently lose them.
    if (p.mantissa > kLimit / 10) return bad("too many digits");
    p.mantissa = p.mantissa * 10 + (c - '0');
    if (seen_dot) ++p.frac_digits;
  }
  if (!any_digit) return bad("expected a number");
  std::string_view suffix = s.substr(i);
  if (suffix.empty()) {
    return p;
  }
  struct Suffix {
    std::string_view name;
    int base;
    int exponent;
  };
  static constexpr Suffix kSuffixes[] = {
      {"Ki", 2, 10}, {"Mi", 2, 20}, {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50},
      {"Ei", 2, 60}, {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"k", 10, 3},
      {"M", 10, 6},  {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18},
  };
  for (const Suffix& sx : kSuffixes) {
    if (suffix == sx.name) {
      p.base = sx.base;
      p.exponent = sx.exponent;
      return p;
    }
  }
  // Decimal exponent: "e3", "E-2".
  if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string_view e = suffix.substr(1);
    bool neg = false;
    if (!e.empty() && (e[0] == '+' || e[0] == '-')) {
      neg = e[0] == '-';
      e.remove_prefix(1);
    }
    if (e.empty() || e.size() > 3) return bad("bad exponent");
    int v = 0;
    for (char c : e) {
      if (c < '0' || c > '9') return bad("bad exponent");
      v = v * 10 + (c - '0');
    }
    p.exponent = neg ? -v : v;
    return p;
  }
  return bad("unknown suffix \"" + std::string(suffix) +
             "\" (want one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or an exponent)");
}

// ceil(p * scale), exactly.
Result<int64_t> Scaled(std::string_view text, int64_t scale) {
  ASB_ASSIGN_OR_RETURN(Parsed p, Parse(text));
  auto overflow = [&] {
    return MakeError(Code::kInvalidArgument,
                     "invalid quantity \"" + std::string(text) + "\": too large");
  };
  if (p.mantissa > kLimit / scale) return overflow();
  Int num = p.mantissa * scale;
  Int den = 1;
  for (int k = 0; k < p.frac_digits; ++k) den *= 10;
  if (p.base == 2) {
    for (int k = 0; k < p.exponent; ++k) {
      if (num > kLimit / 2) return overflow();
      num *= 2;
    }
  } else if (p.exponent >= 0) {
    for (int k = 0; k < p.exponent; ++k) {
      if (num == 0) break;
      if (num > kLimit / 10) return overflow();
      num *= 10;
    }
  } else {
    for (int k = 0; k < -p.exponent; ++k) {
      if (den > kLimit / 10) {
        // The value is below 1/10^36 of a unit: it rounds up to 1 if non-zero.
        return num == 0 ? 0 : 1;
      }
      den *= 10;
    }
  }
  Int q = num / den + (num % den != 0 ? 1 : 0);
  if (q > static_cast<Int>(INT64_MAX)) return overflow();
  return static_cast<int64_t>(q);
}

}  // namespace

Result<int64_t> ParseQuantityMilli(std::string_view text) { return Scaled(text, 1000); }

QuantityProblem CheckQuantity(std::string_view text, bool milli) {
  std::string_view magnitude = text;
  bool negative = !text.empty() && text.front() == '-';
  if (negative) {
    magnitude.remove_prefix(1);
    if (!magnitude.empty() && magnitude.front() == '+') return QuantityProblem::kSyntax;
  }
  auto parsed = Parse(magnitude);
  if (!parsed) {
    // More digits than 128 bits hold is well formed, just unrepresentable.
    bool overflow = parsed.error().message.find("too many digits") != std::string::npos;
    return overflow && !negative ? QuantityProblem::kTooLarge : QuantityProblem::kSyntax;
  }
  if (negative) return QuantityProblem::kNegative;  // even "-0": the node refuses any sign
  return Scaled(text, milli ? 1000 : 1) ? QuantityProblem::kNone : QuantityProblem::kTooLarge;
}

Result<int64_t> ParseQuantityValue(std::string_view text) { return Scaled(text, 1); }

}  // namespace asb::api
