#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/unique_fd.h"
#include "sys/seccomp.h"

namespace asb::sys {
namespace {

scmp_compare ToScmp(SeccompArgCmp::Op op) {
  switch (op) {
    case SeccompArgCmp::Op::kEq:
      return SCMP_CMP_EQ;
    case SeccompArgCmp::Op::kNe:
      return SCMP_CMP_NE;
    case SeccompArgCmp::Op::kMaskedEq:
      return SCMP_CMP_MASKED_EQ;
    case SeccompArgCmp::Op::kGt:
      return SCMP_CMP_GT;
    case SeccompArgCmp::Op::kLt:
      return SCMP_CMP_LT;
  }
  return SCMP_CMP_EQ;
}

}  // namespace

Result<std::string> CompileSeccomp(const std::vector<SeccompRule>& rules) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return MakeError(Code::kInternal, "seccomp_init failed");
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  // Unknown architectures (i386 via int 0x80, x32) never reach the allow-by-default rules.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0) {
    return tl::unexpected(ErrnoError(-rc, "seccomp bad-arch action"));
  }
  for (const SeccompRule& rule : rules) {
    int nr = seccomp_syscall_resolve_name(rule.syscall.c_str());
    if (nr == __NR_SCMP_ERROR) continue;
    std::vector<scmp_arg_cmp> cmps;
    for (const SeccompArgCmp& c : rule.when) {
      scmp_arg_cmp a{};
      a.arg = c.arg;
      a.op = ToScmp(c.op);
      if (c.op == SeccompArgCmp::Op::kMaskedEq) {
        a.datum_a = c.mask;
        a.datum_b = c.value;
      } else {
        a.datum_a = c.value;
      }
      cmps.push_back(a);
    }
    int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(static_cast<uint32_t>(rule.errno_value)),
                                    nr, static_cast<unsigned>(cmps.size()), cmps.data());
    if (rc != 0) {
      return tl::unexpected(ErrnoError(-rc, "seccomp rule for " + rule.syscall));
    }
  }
  UniqueFd mem(static_cast<int>(::syscall(SYS_memfd_create, "seccomp-bpf", MFD_CLOEXEC)));
  if (!mem) return ErrnoUnexpected("memfd_create");
  if (int rc = seccomp_export_bpf(ctx, mem.get()); rc != 0) {
    return tl::unexpected(ErrnoError(-rc, "seccomp_export_bpf"));
  }
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) {
    return MakeError(Code::kInternal, "seccomp_export_bpf produced a malformed program");
  }
  std::string out(static_cast<size_t>(size), '\0');
  if (::pread(mem.get(), out.data(), out.size(), 0) != size) return ErrnoUnexpected("read bpf");
  return out;
}

}  // namespace asb::sys
