#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace asb::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

const char* ShortFile(const char* file) {
  // Paths are printed from src/ down, like include paths.
  const char* p = std::strstr(file, "/src/");
  return p ? p + 5 : file;
}
}  // namespace

void SetLevel(Level level) { g_level = static_cast<int>(level); }
Level GetLevel() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool ParseLevel(std::string_view text, Level* out) {
  if (text == "debug")
    *out = Level::kDebug;
  else if (text == "info")
    *out = Level::kInfo;
  else if (text == "warn")
    *out = Level::kWarn;
  else if (text == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

void Write(Level level, const char* file, int line, std::string_view msg,
           const std::string& fields) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  char head[96];
  int n = std::snprintf(head, sizeof(head), "%s.%03dZ %c ", ts, static_cast<int>(ms),
                        kLetters[static_cast<int>(level)]);
  std::string out(head, n > 0 ? static_cast<size_t>(n) : 0);
  out += ShortFile(file);
  out += ':';
  out += std::to_string(line);
  out += ' ';
  out += msg;
  out += fields;
  out += '\n';
  // One write(2) per line keeps lines from different threads whole.
  ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
}

}  // namespace asb::log
