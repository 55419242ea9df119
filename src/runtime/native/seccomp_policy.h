// The seccomp deny-list every native sandbox runs under, as plain data (one place to review).
// Default allow; the listed syscalls fail with EPERM (clone3 with ENOSYS so libc falls back to
// clone, whose flags a classic-BPF filter can inspect).
#pragma once

#include <vector>

#include "sys/seccomp.h"

namespace asb::runtime::native {

const std::vector<sys::SeccompRule>& SandboxSeccompPolicy();

}  // namespace asb::runtime::native
