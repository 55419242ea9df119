// Python shlex.split(s) (POSIX mode, comments off) for /execute: the upstream runtime splits the
// command string this way and runs argv without a shell, so clients that worked against it see the
// same argv here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace asb::agent {

// Splits like Python's shlex.split(s): whitespace (space, tab, CR, LF) separates words; single
// quotes keep everything literally; inside double quotes a backslash escapes only '"' and '\\'
// (otherwise it is kept); outside quotes a backslash escapes any character; '' or "" yields an
// empty word; '#' is an ordinary character. Errors (kInvalidArgument) carry Python's exact
// messages: "No closing quotation", "No escaped character". Pure; thread-safe.
[[nodiscard]] Result<std::vector<std::string>> ShlexSplit(std::string_view s);

// Python repr() of a str, for error messages that mirror the upstream server's Python exceptions
// (e.g. "No such file or directory: 'foo'"). Bytes >= 0x80 are passed through unchanged.
std::string PyRepr(std::string_view s);
// Python repr() of a list of str: "['sleep', '100']".
std::string PyRepr(const std::vector<std::string>& list);

}  // namespace asb::agent
