// Making a kcr::Status (kcr/status.h): formatted messages, errno, early
// returns. The one home of these helpers for every C++ library of kcr
// (libkcr, lib/slurm, the catalog, the configuration); the public
// kcr/status.h itself needs no formatting library.
//
//   if (fd < 0)
//     return SysError("opening {}", path);            // "opening /x: No such file ..."
//   if (bad)
//     return Errorf(EINVAL, "'{}' is not a size", s);
//   KCR_RETURN_IF_ERROR(Check(x));                     // passes an error on
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
