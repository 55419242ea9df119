// The container output file every runtime keeps (runtime.h "Container output"): lines in the CRI
// logging format that kubelet writes and `kubectl logs` expects,
//
//   2026-12-01T09:43:45.548123Z stdout F a complete line
//   2026-12-01T09:43:45.548200Z stderr P the first 16 KiB of a longer line
//
// bounded on disk: when the current file would pass half the cap it is renamed to <path>.1
// (replacing the older half) and a new one is started, so the pair never exceeds the cap and
// always holds at least the last half of it. Used by asb-init's shim (native) and its `log` mode
// (gVisor), single-threaded, so a sandbox writing as fast as it can (to its stdout or to
// /proc/1/fd/1) costs the host at most the cap.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace asb::init {

class CappedLog {
 public:
  // Longest line piece kept before it is written out as a partial ("P") entry.
  static constexpr size_t kMaxLine = 16 << 10;

  // `fd` is open for writing on `path` (O_APPEND); it stays this fd number across rotations.
  // cap_bytes == 0: no cap, never rotated.
  CappedLog(int fd, std::string path, int64_t cap_bytes);

  // Appends output of `stream` ("stdout" | "stderr"); complete lines are written at once, a
  // trailing partial line is held until its newline, kMaxLine bytes or Flush().
  void Write(int stream, std::string_view data);
  // Writes out held partial lines.
  void Flush();

 private:
  void Emit(int stream, std::string_view line, bool partial, std::string* out);
  void Commit(const std::string& out);

  int fd_;
  std::string path_;
  int64_t cap_;
  int64_t size_ = 0;
  std::string pending_[2];
};

// Copies `out_fd` and `err_fd` (pipes; -1 = none) into `log` until both reach EOF.
void DrainToLog(int out_fd, int err_fd, CappedLog& log);

}  // namespace asb::init
