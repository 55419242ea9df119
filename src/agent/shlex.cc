#include "agent/shlex.h"

#include <cstdio>

namespace asb::agent {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

Result<std::vector<std::string>> ShlexSplit(std::string_view s) {
  // A direct transcription of shlex.read_token's state machine for posix=True,
  // whitespace_split=True, commenters="": states are ' ' (between words), 'a' (in a word), '\''
  // and '"' (in quotes); a backslash is handled inline, remembering the state it escapes from.
  std::vector<std::string> words;
  std::string token;
  bool in_word = false;  // true also for an empty quoted word ('' must yield "")
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote == '\'') {
      if (c == '\'') {
        quote = 0;
      } else {
        token += c;
      }
      continue;
    }
    if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\') {
        if (i + 1 >= s.size()) return MakeError(Code::kInvalidArgument, "No escaped character");
        char next = s[++i];
        if (next != '"' && next != '\\') token += '\\';
        token += next;
      } else {
        token += c;
      }
      continue;
    }
    if (IsSpace(c)) {
      if (in_word) {
        words.push_back(std::move(token));
        token.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 >= s.size()) return MakeError(Code::kInvalidArgument, "No escaped character");
      token += s[++i];
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else {
      token += c;
    }
  }
  if (quote != 0) return MakeError(Code::kInvalidArgument, "No closing quotation");
  if (in_word) words.push_back(std::move(token));
  return words;
}

std::string PyRepr(std::string_view s) {
  // Python picks single quotes unless the text has a single quote and no double quote.
  char q = (s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos) ? '"'
                                                                                             : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += q;
  return out;
}

std::string PyRepr(const std::vector<std::string>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += ", ";
    out += PyRepr(list[i]);
  }
  out += "]";
  return out;
}

}  // namespace asb::agent
