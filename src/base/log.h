// Small structured logger: one line per event on stderr with key=value fields.
//   ASB_LOG(INFO, "reconciled", "kind", "Sandbox", "key", key);
//   2026-05-01T10:00:00.123Z I controller/sandbox_reconciler.cc:88 reconciled kind=Sandbox key=...
// Thread-safe. Never log secrets (tokens, env values, file contents).
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace asb::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
Level GetLevel();
// Parses "debug|info|warn|error"; returns false on anything else.
bool ParseLevel(std::string_view text, Level* out);
void Write(Level level, const char* file, int line, std::string_view msg,
           const std::string& fields);

namespace internal {
inline void AppendValue(std::ostringstream& os, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \t\"=") != std::string_view::npos;
  if (!quote) {
    os << v;
    return;
  }
  os << '"';
  for (char c : v) {
    if (c == '"' || c == '\\') os << '\\';
    if (c == '\n') {
      os << "\\n";
      continue;
    }
    os << c;
  }
  os << '"';
}
inline void AppendValue(std::ostringstream& os, const std::string& v) {
  AppendValue(os, std::string_view(v));
}
inline void AppendValue(std::ostringstream& os, const char* v) {
  AppendValue(os, std::string_view(v ? v : ""));
}
template <class T>
void AppendValue(std::ostringstream& os, const T& v) {
  os << v;
}
inline void AppendFields(std::ostringstream&) {}
template <class K, class V, class... Rest>
void AppendFields(std::ostringstream& os, const K& k, const V& v, const Rest&... rest) {
  os << ' ' << k << '=';
  AppendValue(os, v);
  AppendFields(os, rest...);
}
}  // namespace internal

template <class... Args>
std::string Fields(const Args&... args) {
  static_assert(sizeof...(Args) % 2 == 0, "log fields come in key/value pairs");
  std::ostringstream os;
  internal::AppendFields(os, args...);
  return os.str();
}

}  // namespace asb::log

#define ASB_LOG_LEVEL_DEBUG ::asb::log::Level::kDebug
#define ASB_LOG_LEVEL_INFO ::asb::log::Level::kInfo
#define ASB_LOG_LEVEL_WARN ::asb::log::Level::kWarn
#define ASB_LOG_LEVEL_ERROR ::asb::log::Level::kError

#define ASB_LOG(level, msg, ...)                                        \
  do {                                                                  \
    if (ASB_LOG_LEVEL_##level >= ::asb::log::GetLevel()) {              \
      ::asb::log::Write(ASB_LOG_LEVEL_##level, __FILE__, __LINE__, msg, \
                        ::asb::log::Fields(__VA_ARGS__));               \
    }                                                                   \
  } while (0)
