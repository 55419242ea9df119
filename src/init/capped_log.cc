#include "init/capped_log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/clock.h"

namespace asb::init {
namespace {

constexpr const char* kStreamNames[2] = {"stdout", "stderr"};

void WriteFully(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full host disk drops output rather than blocking the sandbox
    done += static_cast<size_t>(n);
  }
}

}  // namespace

CappedLog::CappedLog(int fd, std::string path, int64_t cap_bytes)
    : fd_(fd), path_(std::move(path)), cap_(cap_bytes) {
  struct stat st;
  if (::fstat(fd_, &st) == 0) size_ = st.st_size;
}

void CappedLog::Emit(int stream, std::string_view line, bool partial, std::string* out) {
  *out += FormatRfc3339Micro(RealClock::Get().Now());
  *out += ' ';
  *out += kStreamNames[stream];
  *out += partial ? " P " : " F ";
  out->append(line.data(), line.size());
  *out += '\n';
}

void CappedLog::Commit(const std::string& out) {
  if (out.empty()) return;
  if (cap_ > 0 && size_ + static_cast<int64_t>(out.size()) > cap_ / 2 && size_ > 0) {
    // Rotate: the current half becomes <path>.1 and a new file takes the same fd number.
    const std::string old = path_ + ".1";
    int fresh = -1;
    if (::rename(path_.c_str(), old.c_str()) == 0) {
      fresh = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    }
    if (fresh >= 0) {
      ::dup3(fresh, fd_, O_CLOEXEC);
      ::close(fresh);
    } else {
      (void)::ftruncate(fd_, 0);  // cannot rotate: keep the cap by starting over
    }
    size_ = 0;
  }
  // A single chunk bigger than half the cap (one read is at most 64 KiB) still goes out whole.
  WriteFully(fd_, out);
  size_ += static_cast<int64_t>(out.size());
}

void CappedLog::Write(int stream, std::string_view data) {
  std::string out;
  std::string& pending = pending_[stream];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      pending.append(data.data(), data.size());
      break;
    }
    pending.append(data.data(), nl);
    data.remove_prefix(nl + 1);
    while (pending.size() > kMaxLine) {
      Emit(stream, std::string_view(pending).substr(0, kMaxLine), true, &out);
      pending.erase(0, kMaxLine);
    }
    Emit(stream, pending, false, &out);
    pending.clear();
  }
  while (pending.size() >= kMaxLine) {
    Emit(stream, std::string_view(pending).substr(0, kMaxLine), true, &out);
    pending.erase(0, kMaxLine);
  }
  Commit(out);
}

void CappedLog::Flush() {
  std::string out;
  for (int s = 0; s < 2; ++s) {
    if (pending_[s].empty()) continue;
    Emit(s, pending_[s], true, &out);
    pending_[s].clear();
  }
  Commit(out);
}

void DrainToLog(int out_fd, int err_fd, CappedLog& log) {
  int fds[2] = {out_fd, err_fd};
  char buf[65536];
  while (fds[0] >= 0 || fds[1] >= 0) {
    pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    int rc = ::poll(p, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int s = 0; s < 2; ++s) {
      if (fds[s] < 0 || p[s].revents == 0) continue;
      ssize_t n = ::read(fds[s], buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[s] = -1;  // poll ignores negative fds
        continue;
      }
      log.Write(s, std::string_view(buf, static_cast<size_t>(n)));
    }
  }
  log.Flush();
}

}  // namespace asb::init
