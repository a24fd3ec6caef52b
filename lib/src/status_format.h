// How libkcr's own code makes a Status: formatted messages, errno, early
// returns. Private: the public kcr/status.h needs no formatting library.
#pragma once

#include <fmt/format.h>
#include <kcr/status.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace kcr {

template <typename... Args>
Status Errorf(int errno_code, fmt::format_string<Args...> f, Args&&... args) {
  return Status::Error(errno_code, fmt::format(f, std::forward<Args>(args)...));
}

// Error from the current errno, e.g. SysError("open {}", path).
template <typename... Args>
Status SysError(fmt::format_string<Args...> f, Args&&... args) {
  int e = errno;
  return Status::Error(
      e, fmt::format("{}: {}", fmt::format(f, std::forward<Args>(args)...), std::strerror(e)));
}

#define KCR_RETURN_IF_ERROR(expr) \
  do {                            \
    ::kcr::Status _st = (expr);   \
    if (!_st.ok())                \
      return _st;                 \
  } while (0)

}  // namespace kcr
