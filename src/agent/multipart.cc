#include "agent/multipart.h"

#include <strings.h>

#include "base/strings.h"

namespace asb::agent {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Parses `; key=value; key="quoted \" value"` header parameters. Keys are lowercased.
std::vector<std::pair<std::string, std::string>> ParseParams(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ';' || s[i] == ' ' || s[i] == '\t')) ++i;
    size_t key_start = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';') ++i;
    std::string key = ToLower(Trim(s.substr(key_start, i - key_start)));
    std::string value;
    if (i < s.size() && s[i] == '=') {
      ++i;
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      if (i < s.size() && s[i] == '"') {
        ++i;
        while (i < s.size() && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          value += s[i++];
        }
        if (i < s.size()) ++i;  // closing quote
      } else {
        size_t v_start = i;
        while (i < s.size() && s[i] != ';') ++i;
        value = std::string(Trim(s.substr(v_start, i - v_start)));
      }
    }
    if (!key.empty()) out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// RFC 5987 ext-value: charset'lang'percent-encoded.
std::optional<std::string> DecodeExtValue(std::string_view v) {
  size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  return UrlDecode(v.substr(q2 + 1));
}

Status ParsePartHeaders(std::string_view headers, MultipartPart& part) {
  bool has_disposition = false;
  for (const std::string& line : Split(headers, '\n')) {
    std::string_view l = line;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) continue;
    size_t colon = l.find(':');
    if (colon == std::string_view::npos) {
      return MakeError(Code::kInvalidArgument,
                       "multipart: malformed part header line: " + std::string(l.substr(0, 80)));
    }
    std::string_view name = Trim(l.substr(0, colon));
    std::string_view value = Trim(l.substr(colon + 1));
    if (IEquals(name, "Content-Type")) {
      part.content_type = std::string(value);
    } else if (IEquals(name, "Content-Disposition")) {
      has_disposition = true;
      size_t semi = value.find(';');
      std::optional<std::string> ext_filename;
      for (auto& [k, v] : ParseParams(semi == std::string_view::npos ? "" : value.substr(semi))) {
        if (k == "name") part.name = v;
        if (k == "filename") part.filename = v;
        if (k == "filename*") ext_filename = DecodeExtValue(v);
      }
      // RFC 6266: filename* wins over filename when both are present and decodable.
      if (ext_filename) part.filename = std::move(ext_filename);
    }
  }
  if (!has_disposition) {
    return MakeError(Code::kInvalidArgument, "multipart: part has no Content-Disposition header");
  }
  return OkStatus();
}

// True if what follows a "CRLF--boundary" at `pos` makes it a real delimiter line.
bool IsDelimiterEnd(std::string_view body, size_t pos) {
  if (body.substr(pos, 2) == "--") return true;
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
  return body.substr(pos, 2) == "\r\n";
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view type = Trim(content_type.substr(0, semi));
  if (!IEquals(type, "multipart/form-data")) {
    return MakeError(Code::kInvalidArgument, "expected Content-Type multipart/form-data, got '" +
                                                 std::string(content_type.substr(0, 100)) + "'");
  }
  if (semi != std::string_view::npos) {
    for (auto& [k, v] : ParseParams(content_type.substr(semi))) {
      if (k != "boundary") continue;
      // RFC 2046: 1 to 70 characters.
      if (v.empty() || v.size() > 70) break;
      return v;
    }
  }
  return MakeError(Code::kInvalidArgument, "multipart/form-data without a valid boundary");
}

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                  std::string_view boundary) {
  if (boundary.empty()) return MakeError(Code::kInvalidArgument, "multipart: empty boundary");
  const std::string dash_boundary = "--" + std::string(boundary);
  const std::string delimiter = "\r\n" + dash_boundary;

  // The first boundary may start the body or follow a preamble ending in CRLF.
  size_t pos;
  if (body.substr(0, dash_boundary.size()) == dash_boundary) {
    pos = dash_boundary.size();
  } else {
    size_t d = body.find(delimiter);
    if (d == std::string_view::npos) {
      return MakeError(Code::kInvalidArgument, "multipart: body does not contain the boundary");
    }
    pos = d + delimiter.size();
  }

  std::vector<MultipartPart> parts;
  while (true) {
    // After a delimiter: "--" closes the body; otherwise optional padding then CRLF.
    if (body.substr(pos, 2) == "--") return parts;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      return MakeError(Code::kInvalidArgument, "multipart: boundary line not followed by CRLF");
    }
    pos += 2;
    MultipartPart part;
    size_t headers_end;
    if (body.substr(pos, 2) == "\r\n") {
      headers_end = pos;  // no headers at all
    } else {
      headers_end = body.find("\r\n\r\n", pos);
      if (headers_end == std::string_view::npos) {
        return MakeError(Code::kInvalidArgument, "multipart: unterminated part headers");
      }
      headers_end += 2;
    }
    ASB_RETURN_IF_ERROR(ParsePartHeaders(body.substr(pos, headers_end - pos), part));
    size_t data_start = headers_end + 2;
    // Content may contain the boundary text itself as long as it isn't a full delimiter line
    // (CRLF--boundary followed by "--" or by optional padding and CRLF): skip such lookalikes.
    size_t next = data_start;
    while (true) {
      next = body.find(delimiter, next);
      if (next == std::string_view::npos) {
        return MakeError(Code::kInvalidArgument, "multipart: missing closing boundary");
      }
      if (IsDelimiterEnd(body, next + delimiter.size())) break;
      ++next;
    }
    part.data = body.substr(data_start, next - data_start);
    parts.push_back(std::move(part));
    pos = next + delimiter.size();
  }
}

}  // namespace asb::agent
