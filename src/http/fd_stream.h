// A blocking Beast stream over a raw socket fd with poll(2) deadlines, shared by every server
// (http::Server, the router) so timeouts work the same everywhere. Include only from .cc files
// that already use Beast.
//
// Why not asio's blocking sockets: asio's synchronous ops turn an SO_RCVTIMEO expiry into an
// endless poll, so a timeout set on the socket never fires. FdStream also sends with
// MSG_NOSIGNAL, so a client that vanishes mid-download can't SIGPIPE the process, and needs no
// io_context (nothing per connection beyond the fd).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <utility>  // before Asio, see docs: GCC 12 + Boost 1.74

namespace asb::http {

class FdStream {
 public:
  using Clock = std::chrono::steady_clock;
  explicit FdStream(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  // Longest wait for each read or write to make progress (-1 = forever).
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  // Absolute limit for every operation until cleared (e.g. "the whole header within 30 s").
  void set_deadline(Clock::time_point t) { deadline_ = t; }
  void clear_deadline() { deadline_ = Clock::time_point::max(); }

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    return Transfer<boost::asio::mutable_buffer>(buffers, POLLIN, ec);
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    return OrThrow([&](auto& ec) { return read_some(buffers, ec); });
  }

  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    return Transfer<boost::asio::const_buffer>(buffers, POLLOUT, ec);
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    return OrThrow([&](auto& ec) { return write_some(buffers, ec); });
  }

 private:
  // The throwing form Beast's SyncReadStream/SyncWriteStream also ask for.
  template <class Op>
  static size_t OrThrow(Op op) {
    boost::system::error_code ec;
    size_t n = op(ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // One loop for both directions (POLLIN: recvmsg, POLLOUT: sendmsg). It tries the call first
  // and waits only when nothing can move: most calls find data or room (one syscall, not two).
  template <class Buffer, class BufferSequence>
  size_t Transfer(const BufferSequence& buffers, short events, boost::system::error_code& ec) {
    std::array<iovec, 16> iov{};
    size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && n < iov.size(); ++it) {
      Buffer b(*it);
      if (b.size() == 0) continue;
      iov[n++] = iovec{const_cast<void*>(b.data()), b.size()};
    }
    ec = {};
    if (n == 0) return 0;
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    const bool reading = events == POLLIN;
    for (;;) {
      ssize_t r = reading ? ::recvmsg(fd_, &msg, MSG_DONTWAIT)
                          : ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (r > 0 || (r == 0 && !reading)) return static_cast<size_t>(r);
      if (r == 0) {
        ec = boost::asio::error::eof;
        return 0;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!Wait(events, ec)) return 0;
        continue;
      }
      ec = boost::system::error_code(errno, boost::system::system_category());
      return 0;
    }
  }

  int WaitMs() const {
    if (deadline_ == Clock::time_point::max()) return timeout_ms_;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    left = std::max<int64_t>(left, 0);
    if (timeout_ms_ >= 0) left = std::min<int64_t>(left, timeout_ms_);
    return static_cast<int>(std::min<int64_t>(left, 1 << 30));
  }
  bool Wait(short events, boost::system::error_code& ec) {
    pollfd p{fd_, events, 0};
    for (;;) {
      int r = ::poll(&p, 1, WaitMs());
      if (r > 0) return true;  // errors and hangups surface from the following read/write
      if (r == 0) {
        ec = boost::asio::error::timed_out;
        return false;
      }
      if (errno != EINTR) {
        ec = boost::system::error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }

  int fd_;
  int timeout_ms_ = -1;
  Clock::time_point deadline_ = Clock::time_point::max();
};

// read_header with a limit on the whole header. Beast 1.74's header_limit only bounds the bytes
// of one parse step (complete fields are consumed as they arrive), so a peer sending endless
// small fields would grow the message without bound; count what the parser consumed instead.
template <class Parser>
void ReadHeaderBounded(FdStream& stream, boost::beast::flat_buffer& buffer, Parser& parser,
                       size_t limit, boost::system::error_code& ec) {
  size_t consumed = 0;
  while (!parser.is_header_done()) {
    consumed += boost::beast::http::read_some(stream, buffer, parser, ec);
    if (ec == boost::beast::http::error::need_buffer) ec = {};
    if (ec) return;
    if (consumed > limit) {
      ec = boost::beast::http::error::header_limit;
      return;
    }
  }
}

inline bool IsTimeout(const boost::system::error_code& ec) {
  return ec == boost::asio::error::timed_out || ec == boost::asio::error::would_block;
}

}  // namespace asb::http
