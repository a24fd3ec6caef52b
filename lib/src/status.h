// Status: the result of an operation — ok, or an errno-style code plus a
// message naming the cause (and the fix, where there is one). Errors travel
// as values; nothing in libkcr throws across its API.
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace kcr {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return {}; }
  // code is a positive errno value; stored negated as the C API returns it.
  static Status Error(int errno_code, std::string message) {
    return Status(-(errno_code > 0 ? errno_code : EIO), std::move(message));
  }
  template <typename... Args>
  static Status Errorf(int errno_code, fmt::format_string<Args...> f, Args&&... args) {
    return Error(errno_code, fmt::format(f, std::forward<Args>(args)...));
  }

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context: "opening image x: <message>".
  Status With(std::string_view context) const {
    if (ok())
      return *this;
    return Status(code_, fmt::format("{}: {}", context, message_));
  }

 private:
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}
  int code_ = 0;
  std::string message_;
};

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
