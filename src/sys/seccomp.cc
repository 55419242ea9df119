#include "sys/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace asb::sys {

int LoadSeccompBpf(const void* program, size_t bytes) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(bytes / sizeof(sock_filter));
  prog.filter = static_cast<sock_filter*>(const_cast<void*>(program));
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
  return 0;
}

}  // namespace asb::sys
