#include "sys/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/unique_fd.h"

namespace asb::sys {

Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout, size_t max_output) {
  using Clock = std::chrono::steady_clock;
  if (argv.empty()) return MakeError(Code::kInvalidArgument, "run: empty argv");
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoUnexpected("pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return ErrnoUnexpected("open /dev/null");

  ASB_ASSIGN_OR_RETURN(Child child,
                       SpawnChild({.path = argv[0],
                                   .argv = argv,
                                   .inherit_env = true,
                                   .fds = {{null.get(), 0}, {out_w.get(), 1}, {err_w.get(), 2}}}));
  out_w.Reset();
  err_w.Reset();

  CommandResult result;
  const Clock::time_point deadline = Clock::now() + timeout;
  UniqueFd* pipes[2] = {&out_r, &err_r};
  std::string* sinks[2] = {&result.out, &result.err};
  char buf[16384];
  while (out_r || err_r) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};  // -1 is skipped
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = ErrnoError(errno, "poll");
      child.Signal(SIGKILL);
      (void)child.Wait(std::chrono::seconds(5));
      return tl::unexpected(e);
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        pipes[i]->Reset();
        continue;
      }
      size_t room = max_output > sinks[i]->size() ? max_output - sinks[i]->size() : 0;
      sinks[i]->append(buf, std::min(room, static_cast<size_t>(got)));
    }
  }
  if (result.timed_out) child.Signal(SIGKILL);
  // The pipes may close before the exit (or a grandchild may hold them): bound the wait anyway.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() < 0 || result.timed_out) left = std::chrono::milliseconds(5000);
  auto st = child.Wait(left);
  if (!st) {
    child.Signal(SIGKILL);
    result.timed_out = true;
    st = child.Wait(std::chrono::seconds(5));
    if (!st) return tl::unexpected(st.error());
  }
  static_cast<ExitStatus&>(result) = *st;
  return result;
}

}  // namespace asb::sys
